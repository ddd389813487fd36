// Transparency-log checks with WebCrypto only: C2SP signed notes (Ed25519), RFC 9162
// inclusion and consistency proofs. Shared by the observer pages and the result checks.
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

  // RFC 9162 section 2.1.3.2
  async function verifyInclusion(index, size, leaf, proof, root) {
    if (index >= size) return false;
    var fn = index, sn = size - 1, r = leaf;
    for (var i = 0; i < proof.length; i++) {
      var p = proof[i];
      if (sn === 0) return false;
      if ((fn & 1) || fn === sn) {
        r = await nodeHash(p, r);
        if (!(fn & 1)) { while (fn && !(fn & 1)) { fn >>= 1; sn >>= 1; } }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1; sn >>= 1;
    }
    return sn === 0 && eq(r, root);
  }
  async function leafHash(bytes) { return sha256(concat([new Uint8Array([0]), bytes])); }

  // A c2sp.org/tlog-proof@v1 text: its entry bytes ("extra"), index, hashes and note.
  function parseProof(text) {
    var cut = text.indexOf("\n\n");
    var head = text.slice(0, cut).split("\n"), note = text.slice(cut + 2);
    return {
      extra: b64(head[1].slice(6)), index: parseInt(head[2].slice(6), 10),
      hashes: head.slice(3).map(b64), note: note
    };
  }

  // Checks a proof under the verifier key: "signature" when the note is not signed by
  // it, "inclusion" when the entry is not in the signed tree, else the parsed proof
  // with its checkpoint.
  async function checkProof(text, vkey) {
    var p = parseProof(text);
    var cp = await checkNote(p.note, vkey);
    if (!cp) return { failed: "signature" };
    var ok = await verifyInclusion(p.index, cp.size, await leafHash(p.extra), p.hashes, cp.root);
    if (!ok) return { failed: "inclusion", index: p.index };
    p.checkpoint = cp;
    return p;
  }

  // Numbers in the page's language (2.973 in Indonesian).
  function num(n) { return n.toLocaleString(document.documentElement.lang || "id"); }
  // A time in the exam's zone (the page's data-tz, WIB by default), with its name.
  function time(ms) {
    return new Date(ms).toLocaleTimeString(document.documentElement.lang || "id", {
      timeZone: document.body.dataset.tz || "Asia/Jakarta", timeZoneName: "short", hourCycle: "h23"
    });
  }

  window.SeleksiTlog = {
    b64: b64, toB64: toB64, eq: eq, sha256: sha256, leafHash: leafHash, enc: enc,
    checkNote: checkNote, verifyConsistency: verifyConsistency, verifyInclusion: verifyInclusion,
    parseProof: parseProof, checkProof: checkProof, num: num, time: time
  };
})();
