// Live countdown on exam pages; the server already wrote the minutes, this only refines them.
(function () {
  "use strict";
  function pad(n) { return String(n).padStart(2, "0"); }
  function tick(element) {
    var start = Date.parse(element.dataset.countdown);
    var value = element.querySelector(".countdown-value");
    var left = Math.round((start - Date.now()) / 1000);
    if (left <= 0) {
      element.textContent = element.dataset.labelRunning;
      element.classList.add("running");
      return false;
    }
    var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
    value.textContent = (h ? h + " h " : "") + pad(m) + " min " + pad(s) + " s";
    return true;
  }
  document.querySelectorAll("[data-countdown]").forEach(function (element) {
    if (tick(element)) {
      var timer = setInterval(function () { if (!tick(element)) clearInterval(timer); }, 1000);
    }
  });
})();
