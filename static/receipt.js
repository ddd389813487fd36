// An applicant's answers in the log: check in this browser that every proof on the page
// (static/tlog.js) is signed by the log's key and puts its entry in the signed tree.
(function () {
  "use strict";
  var T = window.SeleksiTlog;
  document.querySelectorAll("[data-check-receipt]").forEach(function (el) {
    function say(key, values) {
      var text = el.dataset[key] || key;
      Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(values[k]); });
      return text;
    }
    function fail(msg) { el.className = "checkpoint bad"; el.textContent = "✗ " + msg; }
    async function run() {
      var proofs = JSON.parse(el.dataset.proofs || "[]");
      if (!proofs.length) { el.textContent = say("msgNone"); return; }
      var key = await (await fetch("/api/v1/log/key")).text();
      var size = 0;
      for (var i = 0; i < proofs.length; i++) {
        var p = await T.checkProof(new TextDecoder().decode(T.b64(proofs[i])), key);
        if (p.failed === "signature") return fail(say("msgSignature"));
        if (p.failed) return fail(say("msgNotInLog", { index: T.num(p.index) }));
        size = Math.max(size, p.checkpoint.size);
      }
      el.className = "checkpoint good";
      el.textContent = "✓ " + say("msgOk", { count: T.num(proofs.length), size: T.num(size) });
    }
    run().catch(function (e) { fail(say("msgError", { error: e.message })); });
  });
})();
