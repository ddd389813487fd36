// Seleksi item screen, fixed sections and display: keys move between items (N / P, or the
// arrow keys outside the options) and mark ragu-ragu (R); finishing a section with
// unanswered or ragu-ragu items asks first and lists them; a font-size control and a
// high-contrast mode, remembered in this browser.
(function () {
  "use strict";
  const html = document.documentElement;
  const sizes = ["", "font-l", "font-xl"];
  let size = Math.max(0, sizes.indexOf(localStorage.getItem("seleksi-font") || ""));
  function applyDisplay() {
    sizes.forEach(function (c) { if (c) html.classList.remove(c); });
    if (sizes[size]) html.classList.add(sizes[size]);
    const high = localStorage.getItem("seleksi-contrast") === "1";
    html.classList.toggle("high-contrast", high);
    const button = document.getElementById("contrast");
    if (button) button.setAttribute("aria-pressed", high ? "true" : "false");
  }
  applyDisplay();
  function on(id, fn) { const el = document.getElementById(id); if (el) el.addEventListener("click", fn); }
  on("font-larger", function () { size = Math.min(size + 1, sizes.length - 1); localStorage.setItem("seleksi-font", sizes[size]); applyDisplay(); });
  on("font-smaller", function () { size = Math.max(size - 1, 0); localStorage.setItem("seleksi-font", sizes[size]); applyDisplay(); });
  on("contrast", function () {
    localStorage.setItem("seleksi-contrast", html.classList.contains("high-contrast") ? "0" : "1");
    applyDisplay();
  });

  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.target.closest && e.target.closest("textarea, select, input[type=text]")) return;
    const onOption = e.target.name === "choice";
    let target = null;
    if (e.key === "n" || e.key === "N" || (e.key === "ArrowRight" && !onOption)) target = document.getElementById("next");
    else if (e.key === "p" || e.key === "P" || (e.key === "ArrowLeft" && !onOption)) target = document.getElementById("prev");
    else if (e.key === "r" || e.key === "R") target = document.getElementById("mark");
    if (target) { e.preventDefault(); target.click(); }
  });

  // Finishing a section with open items asks first and lists them (the list is the
  // grid's, swapped in after every answer).
  document.addEventListener("submit", function (e) {
    const f = e.target;
    if (!f.classList || !f.classList.contains("finish-section")) return;
    const lines = [];
    if (f.dataset.unanswered) lines.push(f.dataset.unansweredLabel + ": " + f.dataset.unanswered);
    if (f.dataset.doubtful) lines.push(f.dataset.doubtfulLabel + ": " + f.dataset.doubtful);
    if (lines.length && !window.confirm(f.dataset.confirm + "\n\n" + lines.join("\n"))) e.preventDefault();
  });
})();
