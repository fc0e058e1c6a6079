// My day: a tap sent once. A second tap on the same form while the first is
// on its way (a slow signal, a double tap) is ignored here; the server
// would change nothing anyway. The buttons are not disabled, so the tapped
// one's value (the ETA) still goes with the form.
(function () {
  "use strict";
  // The day shown stays in view in the strip of days (without moving the page).
  var strip = document.querySelector("nav.days");
  var current = strip && strip.querySelector("[aria-current]");
  if (current) {
    strip.scrollLeft = current.offsetLeft - strip.offsetLeft - (strip.clientWidth - current.clientWidth) / 2;
  }
  document.querySelectorAll("form.once").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (form.dataset.sent) { e.preventDefault(); return; }
      form.dataset.sent = "1";
      form.setAttribute("aria-busy", "true");
    });
  });
})();
