// The certificate's QR page: check in this browser that the results entry is in the signed
// log (signature and inclusion proof) and that this applicant's row is in the table whose
// SHA-256 the entry commits to.
(function () {
  "use strict";
  var el = document.querySelector("[data-check-result]");
  if (!el) return;
  var T = window.SeleksiTlog;
  function say(key, values) {
    var text = el.dataset[key] || key;
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(values[k]); });
    return text;
  }
  function fail(msg) { el.className = "checkpoint bad"; el.textContent = "✗ " + msg; }
  async function run() {
    var text = new TextDecoder().decode(T.b64(el.dataset.proof));
    var key = await (await fetch("/api/v1/log/key")).text();
    var p = await T.checkProof(text, key);
    if (p.failed === "signature") return fail(say("msgSignature"));
    if (p.failed) return fail(say("msgNotInLog"));
    var index = p.index, cp = p.checkpoint;
    var entry = JSON.parse(new TextDecoder().decode(p.extra));
    var digest = Array.from(await T.sha256(T.enc.encode(entry.table)))
      .map(function (b) { return b.toString(16).padStart(2, "0"); }).join("");
    if (digest !== entry.table_sha256) return fail(say("msgTable"));
    var mine = entry.table.split("\n").some(function (line) { return line.split(",")[0] === el.dataset.pseudonym; });
    if (!mine) return fail(say("msgNotInTable"));
    el.className = "checkpoint good";
    el.textContent = "✓ " + say("msgOk", { index: T.num(index), size: T.num(cp.size) });
  }
  run().catch(function (e) { fail(say("msgError", { error: e.message })); });
})();
