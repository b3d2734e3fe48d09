// Keyboard focus across htmx swaps. htmx gives focus back to the element with the same id
// after a swap (suggestion links keep stable ids for that); when the focused element is no
// longer there, focus would drop to <body> and a keyboard or screen-reader user would start
// again from the top of the page. Focus the refreshed region instead.
(function () {
  "use strict";
  var hadFocus = new WeakSet();
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    var active = document.activeElement;
    if (target && active && active !== document.body && target.contains(active)) {
      hadFocus.add(target);
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!target || !hadFocus.has(target)) return;
    hadFocus.delete(target);
    var active = document.activeElement;
    if (active && active !== document.body && document.contains(active)) return;
    if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
  });
})();
