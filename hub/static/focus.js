// Keyboard focus across htmx swaps. htmx gives focus back to the element with the same id
// after a swap (suggestion links and checklist ticks keep stable ids for that); when the
// focused element is no longer there, focus would drop to <body> and a keyboard or
// screen-reader user would start again from the top of the page. Focus the refreshed region
// instead (found again by its id when the swap replaced it: hx-swap="outerHTML").
(function () {
  "use strict";
  var pending = new Map(); // swapped element -> its id, for swaps that held the focus
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    var active = document.activeElement;
    if (target && active && active !== document.body && target.contains(active)) {
      pending.set(target, target.id || "");
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!target || !pending.has(target)) return;
    var id = pending.get(target);
    pending.delete(target);
    var active = document.activeElement;
    if (active && active !== document.body && document.contains(active)) return;
    var region = document.contains(target) ? target : id && document.getElementById(id);
    if (!region) return;
    if (!region.hasAttribute("tabindex")) region.setAttribute("tabindex", "-1");
    region.focus({ preventScroll: true });
  });
})();
