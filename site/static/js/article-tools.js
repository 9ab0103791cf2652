/* Print and share buttons of an article: print, the browser's share sheet (Web Share API,
   on phones it reaches Zalo and the other apps), copy the link. The Facebook and e-mail
   links need no script. No third-party code: nothing is loaded from another origin. */
(function () {
  "use strict";

  function say(box, text) {
    var status = box.querySelector(".share__status");
    if (status) status.textContent = text;
  }

  function copy(box, url) {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(url).then(
        function () { say(box, "Đã sao chép liên kết."); },
        function () { say(box, "Không sao chép được. Liên kết: " + url); }
      );
    } else {
      say(box, "Liên kết: " + url);
    }
  }

  function wire(box) {
    box.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button) return;
      if (button.hasAttribute("data-print")) {
        window.print();
      } else if (button.hasAttribute("data-share")) {
        navigator
          .share({ title: button.getAttribute("data-title"), url: button.getAttribute("data-url") })
          .catch(function () { /* the reader closed the share sheet */ });
      } else if (button.hasAttribute("data-copy-link")) {
        copy(box, button.getAttribute("data-url"));
      }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll(".share"), wire);
})();
