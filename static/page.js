// Small behaviours shared by all pages (kept out of the HTML: no inline script).
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
