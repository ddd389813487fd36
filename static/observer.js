// Observer pages: follow the audit log live and check its checkpoints in this browser
// (static/tlog.js): the Ed25519 signature of the C2SP signed note under the log's verifier
// key, and an RFC 9162 consistency proof from the last checkpoint this browser saw, so a
// log that rewrote its history shows a red mark here.
(function () {
  "use strict";
  var T = window.SeleksiTlog, b64 = T.b64, toB64 = T.toB64, checkNote = T.checkNote;
  var verifyConsistency = T.verifyConsistency;

  // The page gives its texts (Indonesian or English) as data-msg-* with {name} slots.
  function say(el, key, values) {
    var text = el.dataset[key] || key;
    Object.keys(values || {}).forEach(function (k) { text = text.split("{" + k + "}").join(values[k]); });
    return text;
  }

  async function verifyCheckpoint(el) {
    var out = el.querySelector("[data-cp-text]");
    try {
      var vkey = await (await fetch("/api/v1/log/key")).text();
      var res = await fetch("/api/v1/log/checkpoint");
      if (!res.ok) { out.textContent = say(el, "msgNone"); return; }
      var cp = await checkNote(await res.text(), vkey);
      if (!cp) { el.className = "checkpoint bad"; out.textContent = "✗ " + say(el, "msgBadSignature"); return; }
      var msg = say(el, "msgVerified", { size: T.num(cp.size) });
      var seen = JSON.parse(localStorage.getItem("seleksi-checkpoint") || "null");
      var consistent = true;
      if (seen && seen.origin === cp.origin && seen.size <= cp.size) {
        var proof = [];
        if (seen.size > 0 && seen.size < cp.size) {
          var p = await fetch("/api/v1/log/proof/consistency?first=" + seen.size + "&second=" + cp.size);
          proof = (await p.json()).hashes.map(b64);
        }
        consistent = seen.size === 0 || await verifyConsistency(seen.size, cp.size, b64(seen.root), cp.root, proof);
        msg += consistent ? " · " + say(el, "msgConsistent", { seen: T.num(seen.size) }) : "";
      } else if (seen && seen.size > cp.size) {
        consistent = false;
      }
      if (!consistent) {
        el.className = "checkpoint bad";
        out.textContent = "✗ " + say(el, "msgInconsistent", { seen: seen.size });
        return;
      }
      localStorage.setItem("seleksi-checkpoint", JSON.stringify({ origin: cp.origin, size: cp.size, root: toB64(cp.root) }));
      el.className = "checkpoint good";
      el.dataset.size = cp.size;
      out.textContent = msg + " · " + T.time(Date.now());
      showWitnesses(el);
    } catch (e) {
      el.className = "checkpoint bad";
      out.textContent = "✗ " + say(el, "msgError", { error: e.message });
    }
  }

  // How many of the log's known witnesses cosigned the latest checkpoint (C2SP
  // tlog-cosignature): independent parties that refuse a log which forks its history.
  async function showWitnesses(el) {
    var slot = el.querySelector("[data-cp-witnesses]");
    if (!slot) return;
    var w = await (await fetch("/api/v1/log/witnesses")).json();
    slot.textContent = " · " + (w.known
      ? say(el, "msgWitnesses", { signed: T.num(w.cosigned), known: T.num(w.known) })
      : say(el, "msgNoWitnesses"));
    slot.hidden = false;
  }

  document.querySelectorAll("[data-verify-checkpoint]").forEach(function (el) {
    verifyCheckpoint(el);
    setInterval(function () { verifyCheckpoint(el); }, 15000);
  });

  // The board: refresh the table (htmx) when the log grows for this exam. The server
  // shares one board among observers for a moment (SELEKSI_RANKINGS_MAX_AGE_S), so a
  // refresh can bring a board older than the entry that asked for it: ask again shortly,
  // until the board reflects the last entry of this exam the stream has shown.
  document.querySelectorAll("[data-follow-log]").forEach(function (el) {
    var exam = el.dataset.exam;
    var wanted = 0, again = null;
    var source = new EventSource("/api/v1/log/stream");
    source.addEventListener("entry", function (ev) {
      var entry = JSON.parse(ev.data);
      if (entry.exam !== exam) return;
      wanted = Math.max(wanted, parseInt(ev.lastEventId, 10) + 1);
      document.body.dispatchEvent(new CustomEvent("log-grew"));
    });
    document.body.addEventListener("htmx:afterSettle", function () {
      var board = document.getElementById("board");
      if (!board || again) return;
      if (parseInt(board.dataset.logSize, 10) < wanted) {
        again = setTimeout(function () {
          again = null;
          document.body.dispatchEvent(new CustomEvent("log-grew"));
        }, 400);
      }
    });
  });

  // The audit trail: newest first, filters, pause and resume.
  var body = document.querySelector("[data-trail]");
  if (body) {
    var form = document.getElementById("trail-filters");
    var count = document.querySelector("[data-trail-count]");
    var pauseButton = form.querySelector("[data-pause]");
    var paused = false, held = [], shown = 0;
    // Each cell names its column, for the narrow layout that shows a row as a card.
    var labels = Array.prototype.map.call(
      body.closest("table").querySelectorAll("thead th"), function (th) { return th.textContent; });
    form.addEventListener("submit", function (ev) { ev.preventDefault(); });
    // The event names in the page's language, from the type filter's options.
    var eventNames = {};
    form.querySelectorAll("select[name=type] option").forEach(function (o) {
      if (o.value) eventNames[o.value] = o.textContent;
    });
    function wanted(e) {
      var f = new FormData(form);
      return (!f.get("exam") || e.exam === f.get("exam")) &&
        (!f.get("type") || e.type === f.get("type")) &&
        (!f.get("pseudonym") || (e.pseudonym || "").indexOf(f.get("pseudonym")) === 0);
    }
    function details(e) {
      var skip = { type: 1, exam: 1, t: 1, pseudonym: 1 };
      return Object.keys(e).filter(function (k) { return !skip[k]; }).map(function (k) {
        var v = typeof e[k] === "string" ? e[k] : JSON.stringify(e[k]);
        if (v.length > 60) v = v.slice(0, 57) + "…";
        return k + "=" + v;
      }).join(" ");
    }
    function row(index, e) {
      var tr = document.createElement("tr");
      tr.dataset.entry = JSON.stringify(e);
      var cells = [index, T.time(e.t), eventNames[e.type] || e.type, e.exam, e.pseudonym || "", details(e)];
      cells.forEach(function (c, i) {
        var td = document.createElement("td");
        td.dataset.label = labels[i] || "";
        if (i === 0) {
          var a = document.createElement("a");
          a.href = "/api/v1/log/entries?start=" + index + "&end=" + (index + 1);
          a.textContent = index;
          td.appendChild(a);
        } else {
          td.textContent = c;
        }
        if (i === 4) td.className = "mono";
        tr.appendChild(td);
      });
      tr.hidden = !wanted(e);
      return tr;
    }
    function add(index, e) {
      body.insertBefore(row(index, e), body.firstChild);
      shown++;
      while (body.children.length > 1000) body.removeChild(body.lastChild);
      count.textContent = body.querySelectorAll("tr:not([hidden])").length;
    }
    form.addEventListener("input", function () {
      body.querySelectorAll("tr").forEach(function (tr) { tr.hidden = !wanted(JSON.parse(tr.dataset.entry)); });
      count.textContent = body.querySelectorAll("tr:not([hidden])").length;
    });
    pauseButton.addEventListener("click", function () {
      paused = !paused;
      pauseButton.setAttribute("aria-pressed", paused ? "true" : "false");
      pauseButton.textContent = paused ? body.dataset.pausedLabel : body.dataset.pauseLabel;
      if (!paused) { held.forEach(function (h) { add(h[0], h[1]); }); held = []; }
    });
    var source = new EventSource("/api/v1/log/stream?since=" + body.dataset.since);
    source.addEventListener("entry", function (ev) {
      var e = JSON.parse(ev.data);
      if (paused) held.push([parseInt(ev.lastEventId, 10), e]);
      else add(parseInt(ev.lastEventId, 10), e);
    });
  }
})();
