// Live reload for `portal serve` (never part of a built site). Listens to /_portal/events:
// reloads the page when a newer build than the one it came from is served, and shows the
// problems of a failed build over the page until the next good one. Styles are set through
// the CSSOM, which the pages' Content-Security-Policy (no 'unsafe-inline') allows.
(function () {
  "use strict";
  var script = document.currentScript;
  var servedBuild = script ? script.getAttribute("data-build") : null;
  var overlay = null;

  function text(tag, content, css) {
    var element = document.createElement(tag);
    element.textContent = content;
    if (css) element.style.cssText = css;
    return element;
  }

  function where(problem) {
    var place = problem.file || "";
    if (problem.line !== null && problem.line !== undefined) place += ":" + problem.line;
    if (problem.field) place += " (" + problem.field + ")";
    return place;
  }

  function showProblems(problems) {
    hideProblems();
    overlay = document.createElement("div");
    overlay.id = "portal-build-problems";
    overlay.setAttribute("role", "alert");
    overlay.style.cssText =
      "position:fixed;inset:0;z-index:2147483647;overflow:auto;padding:2rem;" +
      "background:rgba(20,20,24,.94);color:#f5f5f5;font:15px/1.5 system-ui,sans-serif";
    var count = problems.length;
    overlay.appendChild(
      text("h2", "Dựng trang lỗi: " + count + " vấn đề (build failed)", "margin:0 0 1rem;color:#ff8a80")
    );
    var list = document.createElement("ol");
    list.style.cssText = "margin:0;padding-left:1.5rem";
    problems.forEach(function (problem) {
      var item = document.createElement("li");
      item.className = "portal-build-problem";
      item.style.cssText = "margin:0 0 .75rem";
      item.appendChild(text("code", where(problem), "color:#ffd180;margin-right:.5rem"));
      item.appendChild(text("span", problem.message));
      if (problem.hint) item.appendChild(text("em", " " + problem.hint, "color:#b9f6ca"));
      list.appendChild(item);
    });
    overlay.appendChild(list);
    overlay.appendChild(
      text("p", "Sửa tệp và lưu lại: trang tự tải lại khi dựng xong.", "margin-top:1.5rem;opacity:.8")
    );
    var close = text("button", "Đóng", "margin-top:.5rem;font:inherit");
    close.type = "button";
    close.addEventListener("click", hideProblems);
    overlay.appendChild(close);
    (document.body || document.documentElement).appendChild(overlay);
  }

  function hideProblems() {
    if (overlay && overlay.parentNode) overlay.parentNode.removeChild(overlay);
    overlay = null;
  }

  var events = new EventSource("/_portal/events");
  events.onmessage = function (message) {
    var status = JSON.parse(message.data);
    if (!status.ok) {
      showProblems(status.problems || []);
    } else if (status.build !== servedBuild) {
      events.close();
      window.location.reload();
    } else {
      hideProblems();
    }
  };
  window.addEventListener("pagehide", function () {
    events.close();
  });
})();
