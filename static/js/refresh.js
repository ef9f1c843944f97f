// The architecture page's `?refresh=N`: reloads the page every N seconds, to
// watch the balancer rotate. Not when the reader's system asks for reduced
// motion (the page then offers a "Reload now" link instead), and not while
// the keyboard focus is on a link or button, so that "Stop reloading" stays
// within reach. N comes from the page's `data-refresh-seconds`.
(function () {
  "use strict";
  var holder = document.querySelector("[data-refresh-seconds]");
  var seconds = holder ? Number(holder.getAttribute("data-refresh-seconds")) : 0;
  if (!(seconds > 0)) return;
  if (window.matchMedia("(prefers-reduced-motion: reduce)").matches) return;
  var delay = seconds * 1000;
  function tick() {
    var focused = document.activeElement;
    if (focused && focused !== document.body) {
      setTimeout(tick, delay);
      return;
    }
    window.location.reload();
  }
  setTimeout(tick, delay);
})();
