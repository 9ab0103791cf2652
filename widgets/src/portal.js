/* portal widgets: a live presence counter, a one-vote poll and the visit statistics box.
 *
 * This is the readable source. The served file, widgets/portal.js, is this file minified
 * (see widgets/README.md: `terser ...`); a test keeps the two in sync.
 *
 * Mount points (any number, anywhere in the page):
 *   <div data-portal-presence [data-portal-page="/path.html"]></div>
 *   <div data-portal-poll="poll-id">[a server-rendered <form> ballot]</div>
 *   <div data-portal-stats></div>
 * Each takes data-portal-api="https://api.origin" (also allowed on the <script> tag).
 * Nothing here may throw into the host page: everything runs under guard() or a catch.
 */
(() => {
const doc = document, scriptEl = doc.currentScript, sessions = {};
const sessionKey = "portal_session@", tabKey = "portal_tab@";
// Every string; an object holds Intl.PluralRules forms. Counted strings follow their number.
const strings = {
vi: {online: "người đang online", reading: "người đang xem bài này", voters: "người đã bình chọn",
  vote: "Bình chọn", mine: "Lựa chọn của bạn", upcoming: "Cuộc bình chọn chưa bắt đầu.",
  closed: "Cuộc bình chọn đã kết thúc.", failed: "Chưa gửi được, xin thử lại.",
  stats: ["Thống kê truy cập", "Đang online", "Hôm nay", "Tháng này", "Tổng lượt truy cập"]},
en: {online: {one: "person online", other: "people online"},
  reading: {one: "person reading this page", other: "people reading this page"},
  voters: {one: "person has voted", other: "people have voted"},
  vote: "Vote", mine: "Your choice", upcoming: "This poll is not open yet.",
  closed: "This poll is closed.", failed: "Vote not sent. Retry.",
  stats: ["Visitor statistics", "Online now", "Today", "This month", "Total visits"]}
};
const guard = fn => (...args) => { try { return fn(...args) } catch (error) {} };
const languageOf = el => /^en\b/i.test((el.closest("[lang]") || el).lang) ? "en" : "vi";
// "1.234.567" in Vietnamese; "—" for a count the service did not give (null: a page it does not count).
const formatNumber = (lang, count) => count?.toLocaleString(lang) ?? "—";
// "1.234 người đang online": a count and the words that follow it.
const say = (lang, key, count) => {
  const text = strings[lang][key];
  return formatNumber(lang, count) + " " + (text[new Intl.PluralRules(lang).select(count)] || text);
};
const element = (tag, name, text, el = doc.createElement(tag)) => {
  if (name) el.className = "portal-" + name;
  if (text) el.textContent = text;
  return el;
};
const setting = (el, name) => el.getAttribute("data-portal-" + name);
const endpointOf = el => (setting(el, "api") || scriptEl && setting(scriptEl, "api") || "").replace(/\/+$/, "");
// localStorage may be missing or refuse (privacy settings): then each call is a no-op.
const storage = guard((method, ...args) => localStorage[method](...args));
// A cross-origin API gets the session in X-Portal-Session (kept in localStorage), not a cookie.
const session = (endpoint, token) => {
  if (token) storage("setItem", sessionKey + endpoint, sessions[endpoint] = token);
  return sessions[endpoint] ||= storage("getItem", sessionKey + endpoint);
};
let firstRequest;
// A fetch that resolves with the JSON of a 2xx answer, and rejects with the response otherwise.
const request = (endpoint, path, payload) => {
  const crossOrigin = endpoint && new URL(endpoint, location).origin != location.origin;
  const send = () => fetch(endpoint + path, {
    method: payload && "POST", // undefined: GET
    headers: {...payload && {"Content-Type": "application/json"},
      ...crossOrigin && session(endpoint) && {"X-Portal-Session": session(endpoint)}},
    body: payload && JSON.stringify(payload)
  }).then(response => {
    const token = response.headers.get("X-Portal-Session");
    if (crossOrigin && token) session(endpoint, token);
    if (response.ok) return response.json();
    throw response;
  });
  // The first request mints the session; the others wait for it, so a visitor has exactly one.
  const sent = firstRequest ? firstRequest.then(send) : send();
  firstRequest ||= sent.catch(() => 0);
  return sent;
};

// Heartbeats while the page is visible; the counts go into the presence mount points.
function presence(endpoint, mounts) {
  const page = mounts.map(el => setting(el, "page")).find(page => page) || location.pathname;
  // This tab's liveness stamp, [online until (ms), page], read by the site's other tabs.
  const tabPrefix = tabKey + endpoint + "#", thisTab = tabPrefix + Math.random();
  let timer, counts = {}, isView = true, refused;
  const show = () => mounts.forEach(el => {
    const lang = languageOf(el);
    [say(lang, "online", counts.online), setting(el, "page") != null && say(lang, "reading", counts.page_online)]
      .forEach((text, index) => {
        const line = el.children[index] || text && el.appendChild(element("span", "presence__item"));
        if (text && line.textContent != text) line.textContent = text;
      });
  });
  const beat = guard(() => {
    clearTimeout(timer);
    if (refused || doc.visibilityState != "visible") return;
    // "view" marks the first heartbeat the service counts for this page load (or bfcache restore);
    // cleared as it goes, so a heartbeat sent meanwhile does not count the view twice.
    const payload = {page, view: isView};
    isView = false;
    request(endpoint, "/api/presence", payload)
      .then(answer => {
        counts = answer;
        storage("setItem", thisTab, JSON.stringify([Date.now() + answer.ttl * 1e3, page]));
        return answer.ttl * (400 + Math.random() * 200); // every ttl/2 ± 20 %: tabs do not beat in step
      }, failure => {
        isView ||= payload.view; // not counted: the next heartbeat is still the view
        // 429: too many new visitors from this address; keep the last counts, retry when told.
        if (failure.status == 429) return (failure.headers.get("Retry-After") || 60) * 1e3;
        counts = {};
        refused = failure.status == 403; // this page's origin is refused: stop for good
      })
      .then(delay => {
        clearTimeout(timer);
        timer = setTimeout(beat, delay || 3e4); // a refused beat stops there
        show();
      });
  });
  // The pages other tabs of this site show while the service still counts them online.
  // Stale stamps (a tab that crashed, or hidden past its ttl) are dropped on the way.
  const otherTabPages = guard(() => Object.keys(localStorage).filter(key => key.startsWith(tabPrefix)).flatMap(key => {
    const [onlineUntil, tabPage] = JSON.parse(localStorage[key]);
    if (onlineUntil > Date.now()) return [tabPage];
    localStorage.removeItem(key);
    return [];
  }));
  const leave = guard(() => {
    clearTimeout(timer);
    storage("removeItem", thisTab);
    if (refused) return;
    const otherPages = otherTabPages() || [];
    // Another tab shows this page: stay. Other tabs only: leave this page. Last tab: leave the site.
    // A string goes as text/plain (no preflight); a beacon can't set headers, so the session rides in the body.
    if (!otherPages.includes(page)) navigator.sendBeacon(endpoint + "/api/presence/leave",
      JSON.stringify({...otherPages.length && {page}, session: sessions[endpoint]}));
  });
  mounts.forEach(el => el.setAttribute("aria-live", "polite"));
  doc.addEventListener("visibilitychange", beat);
  addEventListener("pageshow", event => {
    if (event.persisted) { // back from the back/forward cache: a new page view
      isView = true;
      beat();
    }
  });
  addEventListener("pagehide", leave);
  beat();
}

function poll(mount) {
  const endpoint = endpointOf(mount), lang = languageOf(mount);
  // The poll (what = "") or a vote in it ("/votes"); its texts in the page's language.
  const ask = (what, payload) =>
    request(endpoint, "/api/polls/" + setting(mount, "poll") + what + "?lang=" + lang, payload);
  const status = element("p", "poll__status");
  let voting;
  status.setAttribute("aria-live", "polite");
  mount.append(status);
  const replaceView = (view, focus) => {
    mount.style.minHeight = mount.offsetHeight + "px"; // swapping views never makes the page jump up
    [...mount.children].forEach(child => child != status && child.remove());
    mount.insertBefore(view, status);
    if (focus) view.focus();
  };
  const show = (poll, focus) => {
    status.textContent = say(lang, "voters", poll.total);
    let form = mount.querySelector("form");
    if (poll.voted || !poll.open) {
      // Results: a bar and a percentage per option, the visitor's choice marked.
      const results = element("div", "poll__results"), list = element("ul", "poll__list");
      results.tabIndex = -1;
      for (const option of poll.options) {
        const item = element("li", "poll__result"), label = element("span", "poll__label", option.label),
          bar = element("span", "poll__bar"), fill = bar.appendChild(element("span", "poll__fill")),
          share = poll.total ? option.votes / poll.total : 0;
        if (option.id == poll.voted) {
          item.classList.add("portal-poll__result--mine");
          label.append(" ", element("span", "poll__mine", "✓ " + strings[lang].mine));
        }
        fill.style.width = share * 100 + "%";
        item.append(label, element("span", "poll__pct", share.toLocaleString(lang, {style: "percent"})), bar);
        list.append(item);
      }
      results.append(element("p", "poll__question", poll.question), list);
      if (!poll.open) results.append(element("p", "poll__closed",
        strings[lang][Date.parse(poll.opens) > Date.now() ? "upcoming" : "closed"]));
      replaceView(results, focus);
    } else {
      if (!form) {
        // No server-rendered ballot (an embed snippet): build the same form.
        const fieldset = element("fieldset", "poll__fieldset");
        form = element("form", "poll__form");
        fieldset.append(element("legend", "poll__question", poll.question));
        for (const option of poll.options) {
          fieldset.appendChild(element("label", "poll__option")).append(
            Object.assign(element("input"), {type: "radio", name: "option", value: option.id, required: 1}),
            " ", element("span", 0, option.label));
        }
        form.append(fieldset, element("button", "poll__submit", strings[lang].vote));
        replaceView(form);
      }
      form.onsubmit = vote;
    }
  };
  const load = focus => ask("").then(poll => show(poll, focus))
    .catch(guard(() => status.textContent = say(lang, "voters")));
  async function vote(event) {
    event.preventDefault();
    const choice = event.target.querySelector(":checked");
    if (voting || !choice) return;
    voting = 1;
    try {
      show(await ask("/votes", {option: choice.value}), 1);
    } catch (failure) {
      // 409: already voted (in another tab) or closed meanwhile: show the current results.
      failure.status == 409 ? await load(1) : status.textContent = strings[lang].failed;
    }
    voting = 0;
  }
  load();
}

// The "Thống kê truy cập" box: GET /api/stats (no session, cacheable), every 30 s while visible.
function stats(mount) {
  const endpoint = endpointOf(mount), lang = languageOf(mount), [title, ...labels] = strings[lang].stats;
  const list = element("dl", "stats__list");
  const values = labels.map(label => {
    const value = element("dd", 0, "—");
    list.appendChild(element("div")).append(element("dt", 0, label), value);
    return value;
  });
  mount.replaceChildren(element("p", "stats__title", title), list);
  // request() waits for the first heartbeat, so "online" counts this visitor as the counter does.
  const refresh = () => doc.visibilityState == "visible" && request(endpoint, "/api/stats")
    .then(numbers => ["online", "today", "month", "total"].forEach((key, index) =>
      values[index].textContent = formatNumber(lang, numbers[key])))
    .catch(() => 0); // keep the numbers shown
  doc.addEventListener("visibilitychange", refresh);
  setInterval(refresh, 3e4);
  refresh();
}

const init = guard(() => {
  const find = selector => [...doc.querySelectorAll(selector)];
  const counters = find("[data-portal-presence]"), boxes = find("[data-portal-stats]");
  // The stats box alone heartbeats too: its visitors count as online and as page views.
  if (counters[0] || boxes[0]) presence(endpointOf(counters[0] || boxes[0]), counters);
  find("[data-portal-poll]").forEach(guard(poll));
  boxes.forEach(guard(stats));
});
doc.readyState == "loading" ? doc.addEventListener("DOMContentLoaded", init) : init();
})();
