/* Client-side search over /tim-kiem.json. Diacritics are ignored on both sides, so
   "tin moi" finds "tin mới" and "dau tu" finds "đầu tư" (đ has no combining mark, so it is
   folded by hand, like the builder does for the index). Results are built with DOM calls,
   never innerHTML. The messages follow the page's language (/tim-kiem.html, /en/search.html). */
(function () {
  "use strict";
  var form = document.querySelector("[data-search-form]");
  if (!form) return;
  var input = form.querySelector("[data-search-input]");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var LIMIT = 50;
  var index = null;
  var loading = null;
  var TEXT = {
    vi: {
      prompt: "Nhập từ khóa để tìm bài viết.",
      found: function (n, q) { return "Tìm thấy " + n + " bài viết cho “" + q + "”"; },
      first: function (n) { return ", hiện " + n + " bài đầu."; },
      none: function (q) { return "Không tìm thấy bài viết nào cho “" + q + "”."; },
      loading: "Đang tải chỉ mục tìm kiếm…",
      failed: "Không tải được chỉ mục tìm kiếm. Vui lòng thử lại sau."
    },
    en: {
      prompt: "Type a word to search the portal.",
      found: function (n, q) { return "Found " + n + (n === 1 ? " result" : " results") + " for “" + q + "”"; },
      first: function (n) { return ", showing the first " + n + "."; },
      none: function (q) { return "No results for “" + q + "”."; },
      loading: "Loading the search index…",
      failed: "The search index could not be loaded. Please try again later."
    }
  }[/^en\b/i.test(document.documentElement.lang) ? "en" : "vi"];

  function fold(text) {
    return text
      .replace(/[đĐ]/g, "d")
      .normalize("NFD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/\s+/g, " ")
      .trim();
  }

  // Folded, then letters and digits only: "15/8/2023" is searched as "15 8 2023".
  function words(text) {
    return fold(text).replace(/[^a-z0-9]+/g, " ").trim();
  }

  function load() {
    if (!loading) {
      loading = fetch(form.getAttribute("data-index"), { credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (docs) {
          docs.forEach(function (doc) {
            // Padded with spaces so that " term" finds a word start anywhere.
            doc.ht = " " + words(doc.t) + " ";
            doc.hay = " " + words(doc.c) + " " + words(doc.k) + " ";
          });
          index = docs;
          return docs;
        });
    }
    return loading;
  }

  function render(query, docs) {
    while (list.firstChild) list.removeChild(list.firstChild);
    var terms = words(query).split(" ").filter(Boolean);
    if (!terms.length) {
      status.textContent = TEXT.prompt;
      return;
    }
    var phrase = " " + terms.join(" ");
    var hits = [];
    docs.forEach(function (doc, order) {
      // Terms match at the start of a word ("tin" finds "tin" and "tình", not "xtin"),
      // so a query can be typed a syllable at a time.
      var score = 0;
      for (var i = 0; i < terms.length; i++) {
        var term = " " + terms[i];
        if (doc.hay.indexOf(term) < 0) return;
        if (doc.hay.indexOf(term + " ") >= 0) score += 2; // the whole word
        if (doc.ht.indexOf(term) >= 0) score += 3; // in the title
      }
      if (terms.length > 1 && doc.hay.indexOf(phrase) >= 0) score += 10; // as a phrase
      hits.push({ doc: doc, score: score, order: order });
    });
    // Best matches first, then newest first (the index is sorted newest first).
    hits.sort(function (a, b) {
      return b.score - a.score || a.order - b.order;
    });
    status.textContent = hits.length
      ? TEXT.found(hits.length, query) + (hits.length > LIMIT ? TEXT.first(LIMIT) : ".")
      : TEXT.none(query);
    hits.slice(0, LIMIT).forEach(function (hit) {
      var item = document.createElement("li");
      item.className = "search-result";
      var heading = document.createElement("h2");
      heading.className = "search-result__title";
      var link = document.createElement("a");
      link.href = hit.doc.u;
      link.textContent = hit.doc.t;
      heading.appendChild(link);
      var meta = document.createElement("p");
      meta.className = "search-result__meta";
      meta.textContent = hit.doc.c + " · " + hit.doc.d;
      var summary = document.createElement("p");
      summary.className = "search-result__summary";
      summary.textContent = hit.doc.s;
      item.appendChild(heading);
      item.appendChild(meta);
      item.appendChild(summary);
      list.appendChild(item);
    });
  }

  function run(query, updateUrl) {
    if (updateUrl && window.history && window.history.replaceState) {
      var url = new URL(window.location.href);
      if (query) url.searchParams.set("q", query);
      else url.searchParams.delete("q");
      window.history.replaceState(null, "", url.toString());
    }
    if (index) {
      render(query, index);
      return;
    }
    status.textContent = TEXT.loading;
    load().then(
      function (docs) {
        render(input.value, docs);
      },
      function () {
        status.textContent = TEXT.failed;
      }
    );
  }

  var timer = null;
  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      run(input.value, true);
    }, 150);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    run(input.value, true);
  });

  var initial = new URLSearchParams(window.location.search).get("q") || "";
  input.value = initial;
  if (initial) run(initial, false);
  else status.textContent = TEXT.prompt;
})();
