// Observer pages: follow the audit log live and check its checkpoints in this browser.
// The checkpoint check uses WebCrypto only: the Ed25519 signature of the C2SP signed note
// under the log's verifier key, and an RFC 9162 consistency proof from the last checkpoint
// this browser saw, so a log that rewrote its history shows a red mark here.
(function () {
  "use strict";
  var enc = new TextEncoder();

  function b64(s) { return Uint8Array.from(atob(s), function (c) { return c.charCodeAt(0); }); }
  function toB64(a) { return btoa(String.fromCharCode.apply(null, a)); }
  function eq(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  function concat(parts) {
    var n = parts.reduce(function (s, p) { return s + p.length; }, 0), out = new Uint8Array(n), o = 0;
    parts.forEach(function (p) { out.set(p, o); o += p.length; });
    return out;
  }
  async function sha256(bytes) { return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)); }
  function nodeHash(l, r) { return sha256(concat([new Uint8Array([1]), l, r])); }

  // RFC 9162 section 2.1.4.2
  async function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
    if (first === second) return proof.length === 0 && eq(firstRoot, secondRoot);
    if (first === 0 || first > second || proof.length === 0) return false;
    var path = proof.slice();
    if ((first & (first - 1)) === 0) path.unshift(firstRoot);
    var fn = first - 1, sn = second - 1;
    while (fn & 1) { fn >>= 1; sn >>= 1; }
    var fr = path[0], sr = path[0];
    for (var i = 1; i < path.length; i++) {
      var c = path[i];
      if (sn === 0) return false;
      if ((fn & 1) || fn === sn) {
        fr = await nodeHash(c, fr); sr = await nodeHash(c, sr);
        if (!(fn & 1)) { while (fn && !(fn & 1)) { fn >>= 1; sn >>= 1; } }
      } else {
        sr = await nodeHash(sr, c);
      }
      fn >>= 1; sn >>= 1;
    }
    return sn === 0 && eq(fr, firstRoot) && eq(sr, secondRoot);
  }

  async function checkNote(note, vkey) {
    var parts = vkey.trim().split("+");
    var name = parts[0], raw = b64(parts.slice(2).join("+"));
    var pub = raw.slice(1);
    var id = (await sha256(concat([enc.encode(name + "\n"), new Uint8Array([1]), pub]))).slice(0, 4);
    var cut = note.lastIndexOf("\n\n");
    var text = note.slice(0, cut + 1);
    var lines = note.slice(cut + 2).split("\n").filter(Boolean);
    var key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
    for (var i = 0; i < lines.length; i++) {
      var m = lines[i].match(/^\u2014 (\S+) (\S+)$/);
      if (!m || m[1] !== name) continue;
      var sig = b64(m[2]);
      if (!eq(sig.slice(0, 4), id)) continue;
      if (await crypto.subtle.verify("Ed25519", key, sig.slice(4), enc.encode(text))) {
        var body = text.split("\n");
        return { origin: body[0], size: parseInt(body[1], 10), root: b64(body[2]) };
      }
      return null;
    }
    return null;
  }

  async function verifyCheckpoint(el) {
    var out = el.querySelector("[data-cp-text]");
    try {
      var vkey = await (await fetch("/api/v1/log/key")).text();
      var res = await fetch("/api/v1/log/checkpoint");
      if (!res.ok) { out.textContent = "no signed checkpoint yet"; return; }
      var cp = await checkNote(await res.text(), vkey);
      if (!cp) { el.className = "checkpoint bad"; out.textContent = "✗ checkpoint signature does NOT verify"; return; }
      var msg = "log size " + cp.size.toLocaleString() + " · checkpoint signature ✓ verified in this browser";
      var seen = JSON.parse(localStorage.getItem("seleksi-checkpoint") || "null");
      var consistent = true;
      if (seen && seen.origin === cp.origin && seen.size <= cp.size) {
        var proof = [];
        if (seen.size > 0 && seen.size < cp.size) {
          var p = await fetch("/api/v1/log/proof/consistency?first=" + seen.size + "&second=" + cp.size);
          proof = (await p.json()).hashes.map(b64);
        }
        consistent = seen.size === 0 || await verifyConsistency(seen.size, cp.size, b64(seen.root), cp.root, proof);
        msg += consistent ? " · consistent with size " + seen.size.toLocaleString() + " seen before ✓" : "";
      } else if (seen && seen.size > cp.size) {
        consistent = false;
      }
      if (!consistent) {
        el.className = "checkpoint bad";
        out.textContent = "✗ the log is NOT consistent with the checkpoint of size " + seen.size + " this browser saw before";
        return;
      }
      localStorage.setItem("seleksi-checkpoint", JSON.stringify({ origin: cp.origin, size: cp.size, root: toB64(cp.root) }));
      el.className = "checkpoint good";
      el.dataset.size = cp.size;
      out.textContent = msg + " · " + new Date().toLocaleTimeString();
    } catch (e) {
      el.className = "checkpoint bad";
      out.textContent = "✗ could not check the checkpoint here (" + e.message + ")";
    }
  }

  document.querySelectorAll("[data-verify-checkpoint]").forEach(function (el) {
    verifyCheckpoint(el);
    setInterval(function () { verifyCheckpoint(el); }, 15000);
  });

  // The board: refresh the table (htmx) when the log grows for this exam.
  document.querySelectorAll("[data-follow-log]").forEach(function (el) {
    var exam = el.dataset.exam;
    var source = new EventSource("/api/v1/log/stream");
    source.addEventListener("entry", function (ev) {
      var entry = JSON.parse(ev.data);
      if (entry.exam === exam) document.body.dispatchEvent(new CustomEvent("log-grew"));
    });
  });

  // The audit trail: newest first, filters, pause and resume.
  var body = document.querySelector("[data-trail]");
  if (body) {
    var form = document.getElementById("trail-filters");
    var count = document.querySelector("[data-trail-count]");
    var pauseButton = form.querySelector("[data-pause]");
    var paused = false, held = [], shown = 0;
    form.addEventListener("submit", function (ev) { ev.preventDefault(); });
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
      var cells = [index, new Date(e.t).toLocaleTimeString(), e.type, e.exam, e.pseudonym || "", details(e)];
      cells.forEach(function (c, i) {
        var td = document.createElement("td");
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
