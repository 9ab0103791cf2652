/* portal widgets: a live presence counter and a one-vote poll.
 *
 * This is the readable source. The served file, widgets/portal.js, is this file minified
 * (see widgets/README.md: `npx terser ...`); a test keeps the two in sync.
 *
 * Mount points (any number, anywhere in the page):
 *   <div data-portal-presence [data-portal-page="/path.html"]></div>
 *   <div data-portal-poll="poll-id">[a server-rendered <form> ballot]</div>
 * Both take data-portal-api="https://api.origin" (also allowed on the <script> tag).
 * Nothing here may throw into the host page: everything runs under safe() or a catch.
 */
(() => {
const d = document, me = d.currentScript, K = "portal_session@", mem = {};
// All strings; an object holds Intl.PluralRules forms.
const T = {
vi: {on: "{n} người đang online", pg: "{n} người đang xem bài này", tot: "{n} người đã bình chọn",
  vote: "Bình chọn", mine: "Lựa chọn của bạn", closed: "Cuộc bình chọn đã kết thúc.", err: "Chưa gửi được, xin thử lại."},
en: {on: {one: "{n} person online", other: "{n} people online"},
  pg: {one: "{n} person reading this page", other: "{n} people reading this page"},
  tot: {one: "{n} person has voted", other: "{n} people have voted"},
  vote: "Vote", mine: "Your choice", closed: "This poll is closed.", err: "Could not send your vote. Try again."}
};
const safe = f => (...a) => { try { return f(...a) } catch (e) {} };
const lang = el => /^en\b/i.test((el.closest("[lang]") || el).lang) ? "en" : "vi";
const t = (L, k, n) => {
  let s = T[L][k];
  s = s[new Intl.PluralRules(L).select(n)] || s.other || s;
  return s.replace("{n}", n >= 0 ? new Intl.NumberFormat(L).format(n) : "—");
};
const mk = (tag, cls, text, e = d.createElement(tag)) => {
  if (cls) e.className = "portal-" + cls;
  if (text) e.textContent = text;
  return e;
};
const attr = (el, a) => el.getAttribute("data-portal-" + a);
const api = el => (attr(el, "api") || me && attr(me, "api") || "").replace(/\/+$/, "");
// A cross-origin API gets the session in X-Portal-Session (from localStorage), not a cookie.
const sess = (a, v) => {
  if (v) mem[a] = v;
  try { v ? localStorage.setItem(K + a, v) : mem[a] ||= localStorage.getItem(K + a) } catch (e) {}
  return mem[a];
};
let gate;
const req = (a, path, body) => {
  const x = a && new URL(a, location).origin != location.origin;
  const go = () => fetch(a + path, {
    method: body ? "POST" : "GET",
    headers: {...body && {"Content-Type": "application/json"}, ...x && sess(a) && {"X-Portal-Session": sess(a)}},
    body: body && JSON.stringify(body)
  }).then(r => {
    const s = r.headers.get("X-Portal-Session");
    if (x && s) sess(a, s);
    if (r.ok || r.status == 409) return r;
    throw r;
  });
  // The first request mints the session; the others wait for it, so a visitor has exactly one.
  const p = gate ? gate.then(go) : go();
  gate ||= p.catch(e => 0);
  return p;
};

function presence(els) {
  const a = api(els[0]), pe = els.find(e => attr(e, "page") != null);
  const page = pe && (attr(pe, "page") || location.pathname);
  let timer;
  const show = o => els.forEach(el => {
    const L = lang(el);
    [t(L, "on", o.online), attr(el, "page") != null && t(L, "pg", o.page_online)].forEach((s, i) => {
      const c = el.children[i] || s && el.appendChild(mk("span", "presence__item"));
      if (s && c.textContent != s) c.textContent = s;
    });
  });
  // Heartbeats only while the page is visible, every ttl/2 or so, with jitter.
  const beat = safe(() => {
    clearTimeout(timer);
    if (d.visibilityState == "visible") req(a, "/api/presence", {page})
      .then(r => r.json()).then(o => (show(o), o.ttl)).catch(safe(() => show({})))
      .then(ttl => { clearTimeout(timer); timer = setTimeout(beat, (ttl || 60) * (400 + Math.random() * 200)) });
  });
  els.forEach(el => el.setAttribute("aria-live", "polite"));
  d.addEventListener("visibilitychange", beat);
  addEventListener("pageshow", e => e.persisted && beat());
  addEventListener("pagehide", safe(() => {
    clearTimeout(timer);
    // A string goes as text/plain: no preflight; a beacon can't set headers, so the session rides in the body.
    navigator.sendBeacon(a + "/api/presence/leave", JSON.stringify({page, session: mem[a]}));
  }));
  beat();
}

function poll(el) {
  const a = api(el), L = lang(el), st = mk("p", "poll__status"), path = "/api/polls/" + attr(el, "poll");
  let busy;
  st.setAttribute("aria-live", "polite");
  el.append(st);
  const put = (box, focus) => {
    el.style.minHeight = el.offsetHeight + "px"; // swapping views never makes the page jump up
    [...el.children].forEach(c => c != st && c.remove());
    el.insertBefore(box, st);
    if (focus) box.focus();
  };
  const show = (p, focus) => {
    st.textContent = t(L, "tot", p.total);
    let f = el.querySelector("form");
    if (p.voted || !p.open) {
      // Results: a bar and a percentage per option, the visitor's choice marked.
      const box = mk("div", "poll__results"), ul = mk("ul", "poll__list");
      box.tabIndex = -1;
      for (const o of p.options) {
        const li = mk("li", "poll__result"), name = mk("span", "poll__label", o.label), bar = mk("span", "poll__bar"),
          fill = bar.appendChild(mk("span", "poll__fill")), v = p.total ? o.votes / p.total : 0;
        if (o.id == p.voted) {
          li.classList.add("portal-poll__result--mine");
          name.append(" ", mk("span", "poll__mine", "✓ " + t(L, "mine")));
        }
        fill.style.width = v * 100 + "%";
        li.append(name, mk("span", "poll__pct", new Intl.NumberFormat(L, {style: "percent"}).format(v)), bar);
        ul.append(li);
      }
      box.append(mk("p", "poll__question", p.question), ul);
      if (!p.open) box.append(mk("p", "poll__closed", t(L, "closed")));
      put(box, focus);
    } else {
      if (!f) {
        // No server-rendered ballot (an embed snippet): build the same form.
        const fs = mk("fieldset", "poll__fieldset");
        f = mk("form", "poll__form");
        fs.append(mk("legend", "poll__question", p.question));
        for (const o of p.options) {
          const lb = fs.appendChild(mk("label", "poll__option"));
          lb.append(Object.assign(mk("input"), {type: "radio", name: "option", value: o.id, required: 1}), " ", mk("span", 0, o.label));
        }
        f.append(fs, mk("button", "poll__submit", t(L, "vote")));
        put(f);
      }
      f.onsubmit = vote;
    }
  };
  const load = focus => req(a, path).then(r => r.json()).then(p => show(p, focus))
    .catch(safe(() => st.textContent = t(L, "tot")));
  async function vote(e) {
    try {
      e.preventDefault();
      const c = e.target.querySelector(":checked");
      if (busy || !c) return;
      busy = 1;
      const r = await req(a, path + "/votes", {option: c.value});
      // 409: already voted (in another tab) or closed meanwhile: show the current results.
      await (r.status == 409 ? load(1) : show(await r.json(), 1));
    } catch (x) {
      st.textContent = t(L, "err");
    }
    busy = 0;
  }
  load();
}

const init = safe(() => {
  const els = [...d.querySelectorAll("[data-portal-presence]")];
  if (els.length) presence(els);
  d.querySelectorAll("[data-portal-poll]").forEach(safe(poll));
});
d.readyState == "loading" ? d.addEventListener("DOMContentLoaded", init) : init();
})();
