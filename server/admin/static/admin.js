// Live counts for the console's overview: the server renders every number (the page works
// without this file); this keeps them current from the /api/admin/live event stream.
(function () {
  "use strict";
  var liveRoot = document.querySelector("[data-live]");
  if (!liveRoot || !window.EventSource) {
    return;
  }
  var locale = document.documentElement.lang === "en" ? "en" : "vi-VN";
  var formatNumber = new Intl.NumberFormat(locale);

  function showCounts(counts) {
    document.querySelectorAll("[data-count]").forEach(function (element) {
      var value = counts[element.getAttribute("data-count")];
      if (typeof value === "number") {
        element.textContent = formatNumber.format(value);
      }
    });
    var pageList = document.querySelector("[data-list=pages]");
    if (!pageList || !Array.isArray(counts.pages) || counts.pages.length === 0) {
      return;
    }
    var rows = counts.pages.map(function (page) {
      var row = document.createElement("tr");
      [page.page, page.title, formatNumber.format(page.online)].forEach(function (text, index) {
        var cell = document.createElement("td");
        cell.textContent = text;
        if (index === 2) {
          cell.className = "num";
        }
        row.appendChild(cell);
      });
      return row;
    });
    pageList.replaceChildren.apply(pageList, rows);
  }

  var stream = new EventSource(liveRoot.getAttribute("data-live"));
  stream.addEventListener("counts", function (event) {
    try {
      showCounts(JSON.parse(event.data));
    } catch (error) {
      // A malformed event is skipped; the next one brings all counts again.
    }
  });
})();
