// Seleksi item screen: countdown from the server's remaining time, keyboard answering,
// automatic retry of a failed save, and proctoring events for observers' review.
(function () {
  "use strict";
  const root = document.getElementById("exam");
  if (!root) return;
  const attempt = root.dataset.attempt;
  const csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";
  const timer = document.getElementById("timer");
  const announce = document.getElementById("timer-announce");
  const conn = document.getElementById("conn");
  let deadline = performance.now() + Number(root.dataset.remainingMs);
  let warned5 = false, warned1 = false;

  function tick() {
    const left = Math.max(0, Math.round((deadline - performance.now()) / 1000));
    const m = String(Math.floor(left / 60)).padStart(2, "0");
    const s = String(left % 60).padStart(2, "0");
    timer.textContent = m + ":" + s;
    if (left <= 300) timer.classList.add("warn");
    if (left <= 300 && !warned5) { warned5 = true; announce.textContent = root.dataset.warn; }
    if (left <= 60 && !warned1) { warned1 = true; announce.textContent = root.dataset.last; }
    // A little after zero: the server's clock decides, and its deadline is never early.
    if (deadline + 1500 - performance.now() <= 0) { window.location = root.dataset.finishedUrl; return; }
    setTimeout(tick, 250);
  }
  tick();

  function form() { return document.getElementById("item"); }

  // Enable submit once an option is chosen; keys A–E / 1–5 choose, Enter submits.
  document.addEventListener("change", function (e) {
    if (e.target.name === "choice" && !root.dataset.paused) {
      form().querySelector("button[type=submit]").disabled = false;
    }
  });
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.target.closest && e.target.closest("button, a, select, textarea")) return;
    const f = form();
    if (!f) return;
    const radios = f.querySelectorAll("input[name=choice]");
    const k = e.key.toUpperCase();
    let index = "ABCDE".indexOf(k);
    if (index < 0 && k >= "1" && k <= "5") index = Number(k) - 1;
    if (index >= 0 && index < radios.length && e.target.tagName !== "TEXTAREA") {
      radios[index].checked = true;
      radios[index].focus();
      radios[index].dispatchEvent(new Event("change", { bubbles: true }));
      e.preventDefault();
    } else if (e.key === "Enter" && f.querySelector("input[name=choice]:checked") &&
               !root.dataset.paused) {
      e.preventDefault();
      // A form swapped in a moment ago may not be wired by htmx yet: process it first
      // (harmless if it already is), so a fast Enter is never lost.
      htmx.process(f);
      htmx.trigger(f, "submit");
    }
  });

  // A save that fails (network or server) keeps the choice and retries by itself.
  let retryDelay = 1000;
  document.body.addEventListener("htmx:sendError", retry);
  document.body.addEventListener("htmx:responseError", function (e) {
    if (e.detail.xhr.status >= 500) retry(e);
  });
  document.body.addEventListener("htmx:afterSwap", function () {
    retryDelay = 1000;
    setOnline(true);
    const first = form() && form().querySelector("input[name=choice]");
    if (first) first.focus();
  });
  function retry(e) {
    const f = form();
    if (!f) return;
    setOnline(false);
    const note = document.getElementById("save-note");
    if (note) note.textContent = root.dataset.retry;
    setTimeout(function () { htmx.process(f); htmx.trigger(f, "submit"); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 15000);
  }
  function setOnline(ok) {
    conn.textContent = "● " + (ok ? root.dataset.online : root.dataset.offline);
    conn.classList.toggle("down", !ok);
  }
  window.addEventListener("offline", function () { setOnline(false); report("offline"); });
  window.addEventListener("online", function () { setOnline(true); report("online"); });

  // Proctoring events: reported for human review, never a sanction.
  function report(type) {
    fetch("/api/v1/attempts/" + attempt + "/events", {
      method: "POST", credentials: "same-origin", keepalive: true,
      headers: { "content-type": "application/json", "x-csrftoken": decodeURIComponent(csrf) },
      body: JSON.stringify({ type: type, at: Date.now() })
    }).catch(function () {});
  }
  document.addEventListener("visibilitychange", function () {
    report(document.visibilityState === "hidden" ? "hidden" : "visible");
  });
  window.addEventListener("blur", function () { report("blur"); });
  window.addEventListener("focus", function () { report("focus"); });
  ["copy", "paste", "contextmenu"].forEach(function (t) {
    document.addEventListener(t, function () { report(t); });
  });
  document.addEventListener("fullscreenchange", function () {
    if (!document.fullscreenElement) report("fullscreen_exit");
  });

  // A session that ends mid-exam (another login, expiry, a logout elsewhere) is never
  // silent: the page says so and keeps the chosen answer in this tab's sessionStorage;
  // after logging in again the same item comes back with that choice selected.
  const stored = "seleksi.choice." + attempt;
  let ended = false;
  document.addEventListener("change", function (e) {
    const f = form();
    if (e.target.name !== "choice" || !f) return;
    try {
      sessionStorage.setItem(stored, JSON.stringify({
        step: f.elements.step.value, item: f.elements.item_id.value, choice: e.target.value }));
    } catch (err) { /* storage full or off: the choice stays on the page */ }
  });
  function restore() {
    const f = form();
    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(stored) || "null"); } catch (err) { saved = null; }
    if (!f || !saved) return;
    const radio = f.querySelector("input[name=choice][value='" + CSS.escape(saved.choice) + "']");
    if (saved.step !== f.elements.step.value || saved.item !== f.elements.item_id.value || !radio) {
      sessionStorage.removeItem(stored);  // answered meanwhile, or another item
      return;
    }
    radio.checked = true;
    f.querySelector("button[type=submit]").disabled = Boolean(root.dataset.paused);
    const note = document.getElementById("save-note");
    if (note) note.textContent = root.dataset.restored;
  }
  restore();
  document.body.addEventListener("htmx:afterSwap", restore);
  function sessionEnded() {
    if (ended) return;
    ended = true;
    const box = document.getElementById("session-ended");
    box.hidden = false;
    conn.textContent = "✕ " + root.dataset.ended;
    conn.classList.add("down");
    box.querySelector("a").focus();
  }
  document.body.addEventListener("htmx:responseError", function (e) {
    const status = e.detail.xhr.status;
    if (status === 401 || status === 403) sessionEnded();
  });

  // The heartbeat: the server knows the page is connected (site outages are credited
  // from it), and the page learns the server's remaining time and a proctor's pause.
  function heartbeat() {
    if (ended) return;
    fetch("/api/v1/attempts/" + attempt + "/heartbeat", {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "x-csrftoken": decodeURIComponent(csrf), "accept": "application/json" }
    }).then(function (r) {
      if (r.status === 401 || r.status === 403) { sessionEnded(); return null; }
      return r.ok ? r.json() : null;
    }).then(function (b) {
      if (!b) return;
      setOnline(true);
      deadline = performance.now() + b.remaining_ms;
      document.getElementById("paused").hidden = !b.paused;
      if (b.paused) root.dataset.paused = "1"; else delete root.dataset.paused;
      const f = form();
      const submit = f && f.querySelector("button[type=submit]");
      if (submit && b.paused) submit.disabled = true;
      else if (submit && f.querySelector("input[name=choice]:checked")) submit.disabled = false;
    }).catch(function () { setOnline(false); });
  }
  setInterval(heartbeat, Number(root.dataset.heartbeatMs));
  heartbeat();
  // A page the browser kept (Back or Forward) is asked for again: the server shows the
  // item to answer now.
  window.addEventListener("pageshow", function (e) { if (e.persisted) window.location.reload(); });

  // Finishing early asks first.
  const early = document.querySelector("form.finish-early");
  if (early) early.addEventListener("submit", function (e) {
    if (!window.confirm(early.dataset.confirm)) e.preventDefault();
  });
})();
