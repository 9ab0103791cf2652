/* Text size control (A− / A / A+), 100 % to 200 % in steps, remembered in localStorage.
   Loaded synchronously in <head> so a saved size applies before the first paint; the
   buttons are wired once the document is parsed. Sizes are CSS classes, not inline styles,
   because the pages' Content-Security-Policy forbids inline styles. */
(function () {
  "use strict";
  var KEY = "portal.textSize";
  var STEPS = [100, 125, 150, 175, 200];
  var root = document.documentElement;

  // Before the first paint: controls that need JavaScript (this one, print, copy link,
  // the share sheet) are laid out from the start instead of appearing later and pushing
  // the page down (layout shift). CSS shows them by these classes.
  root.classList.add("js");
  if (typeof navigator.share === "function") root.classList.add("can-share");

  function saved() {
    try {
      var value = parseInt(window.localStorage.getItem(KEY), 10);
      return STEPS.indexOf(value) >= 0 ? value : 100;
    } catch (e) {
      return 100; // storage blocked (private mode, policy): default size
    }
  }

  function apply(value) {
    if (value === 100) {
      root.removeAttribute("data-text-size");
    } else {
      root.setAttribute("data-text-size", String(value));
    }
  }

  var current = saved();
  apply(current);

  function wire() {
    var groups = document.querySelectorAll("[data-text-size-control]");
    Array.prototype.forEach.call(groups, function (group) {
      var output = group.querySelector("output");
      var buttons = group.querySelectorAll("button[data-step]");

      function show() {
        if (output) output.textContent = current + "%";
        Array.prototype.forEach.call(buttons, function (button) {
          var step = parseInt(button.getAttribute("data-step"), 10);
          button.disabled =
            (step < 0 && current === STEPS[0]) ||
            (step > 0 && current === STEPS[STEPS.length - 1]);
          if (step === 0) button.setAttribute("aria-pressed", String(current === 100));
        });
      }

      group.addEventListener("click", function (event) {
        var button = event.target.closest("button[data-step]");
        if (!button) return;
        var step = parseInt(button.getAttribute("data-step"), 10);
        var index = STEPS.indexOf(current);
        var next = step === 0 ? 100 : STEPS[Math.max(0, Math.min(STEPS.length - 1, index + step))];
        if (next === current) return;
        current = next;
        apply(current);
        try {
          window.localStorage.setItem(KEY, String(current));
        } catch (e) {
          /* not persisted, still applied */
        }
        show();
      });

      show();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else {
    wire();
  }
})();
