/* Chatlink chat widget for customers' pages: one dependency-free IIFE, styles sealed in a Shadow DOM.
   The server wraps it with the reply renderer (rich.js) in one scope. Two ways in: a site with a
   backend sets window.ChatlinkChat with fetchToken (verified users, JWT); any site can paste
   <script src=".../widget/chat.js" data-chatlink="<chat link>"> (anonymous visitors of that link). */
(() => {
  'use strict';

  // currentScript is only set while the script first runs, so read it before anything async.
  const me = document.currentScript;
  const scriptSrc = me?.src;
  let link = null;
  try { if (me?.dataset.chatlink) link = new URL(me.dataset.chatlink.replace(/\/*$/, '/'), location.href); } catch { /* not a URL */ }
  if (link && !/^\/chat\/[\w-]+\/$/.test(link.pathname)) link = null;
  // XYZChat is the name an existing snippet format uses; ours wins when a page sets both.
  const cfg = link ? {} : window.ChatlinkChat || window.XYZChat;
  const LOADED = Symbol.for('chatlink.widget');
  if (!cfg || typeof cfg !== 'object' || window[LOADED]) return;
  window[LOADED] = true;

  // cfg.chatHost is accepted for old snippets but ignored: Chatlink serves everything from host.
  const apiBase = link ? link.origin : String(cfg.host || (scriptSrc ? new URL(scriptSrc).origin : '')).replace(/\/+$/, '');
  // Filled from the server's catalog, in the visitor's language, before the bubble shows.
  let S = {};
  const t = (key, vars = {}) => Object.entries(vars).reduce((s, [k, v]) => s.split('{' + k + '}').join(v), S[key] || '');

  const MAX_CHARS = 4000, COUNTER_FROM = 3500, MAX_FAILURES = 4, MAX_TIMEOUT = 2 ** 31 - 1;
  // A stream whose answer has not begun by then is held by something on the way (a proxy that
  // sends only whole answers): from then on frames come by long-poll, whose answers are short.
  const OPEN_WITHIN = 4000;
  let polling = false;
  // Thrown once the widget has switched to a notice, so callers just stop.
  const ENDED = new Error('chat session ended');

  const CSS = `
:host{all:initial;color-scheme:light dark;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
--bg:#f5f6f8;--surface:#fff;--text:#1a1c1f;--muted:#565c66;--border:#d5d9df;--accent:var(--al,#1d4ed8);--on-accent:var(--ol,#fff);--agent:#fff;
--owner:#fff6e5;--owner-edge:#9a4a06;--danger:#b42318;--focus:var(--accent);color:var(--text)}
@media (prefers-color-scheme:dark){:host{--bg:#121417;--surface:#1b1e22;--text:#e8eaed;--muted:#a7adb7;--border:#343a42;
--accent:var(--ad,#8fb0f5);--on-accent:var(--od,#111316);--agent:#23272d;--owner:#2c2416;--owner-edge:#f3ad5b;--danger:#ff8f85}}
*,*::before,*::after{box-sizing:border-box} [hidden]{display:none!important}
button{font:inherit;cursor:pointer;border:0;-webkit-tap-highlight-color:transparent} button:disabled{opacity:.4;cursor:default}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.bubble,.send,.close{display:grid;place-items:center;border-radius:50%} .bubble,.send,.retry{background:var(--accent);color:var(--on-accent)}
.bubble{position:fixed;right:20px;bottom:20px;z-index:2147483000;min-width:56px;height:56px;box-shadow:0 4px 14px rgba(0,0,0,.25);transition:transform .15s}
.bubble:hover{transform:scale(1.05)} .bubble.label{display:flex;gap:.5rem;padding:0 1.25rem 0 1rem;border-radius:28px;font-weight:600}
.badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;background:var(--danger);
color:#fff;font:700 12px/22px system-ui,sans-serif;text-align:center}
:host([data-side=left]) .bubble{right:auto;left:20px}
@media (min-width:481px){:host([data-side=left]) .panel{right:auto;left:20px}}
.logo{width:32px;height:32px;border-radius:8px;object-fit:contain}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.panel{position:fixed;right:20px;bottom:88px;z-index:2147483000;width:370px;max-width:calc(100vw - 40px);height:min(560px,calc(100vh - 110px));
display:flex;flex-direction:column;overflow:hidden;background:var(--bg);border:1px solid var(--border);border-radius:16px;
box-shadow:0 12px 40px rgba(0,0,0,.22);animation:rise .18s ease-out}
@keyframes rise{from{opacity:0;transform:translateY(8px)}}
.head{display:flex;align-items:center;gap:.5rem;padding:.4rem .4rem .4rem 1rem;background:var(--surface);border-bottom:1px solid var(--border)}
.title{flex:1;min-width:0;font-size:1.0625rem;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.close{width:44px;height:44px;background:none;color:var(--muted)} .close:hover{background:var(--bg)}
.messages{flex:1;min-height:0;overflow-y:auto;overscroll-behavior:contain;display:flex;flex-direction:column;gap:.5rem;padding:1rem .75rem}
/* Long unbroken strings (URLs, codes) must wrap instead of widening the panel. */
.msg{max-width:85%;padding:.55rem .85rem;border-radius:1.1rem 1.1rem 1.1rem .35rem;white-space:pre-wrap;overflow-wrap:anywhere;
align-self:flex-start;background:var(--agent);border:1px solid var(--border)}
.rich{white-space:normal} .msg p,.msg ul,.msg ol{margin:0} .msg p+*,.msg ul+*,.msg ol+*{margin-top:.5em}
.msg ul,.msg ol{padding-inline-start:1.3em} .msg a{color:inherit;text-decoration:underline}
.msg.user{align-self:flex-end;background:var(--accent);color:var(--on-accent);border:0;border-radius:1.1rem 1.1rem .35rem}
.msg.owner{background:var(--owner);border-color:var(--owner-edge)} .msg.error{border-color:var(--danger);color:var(--danger)}
/* Generated content keeps labels out of the message's textContent. */
.msg.owner::before{content:var(--team);display:block;margin-bottom:.15rem;font-size:.75rem;font-weight:700;color:var(--owner-edge)}
.msg.failed{opacity:.7} .msg.failed::after{content:var(--not-sent);display:block;font-size:.75rem;text-align:right}
.choices{display:flex;flex-wrap:wrap;gap:.4rem;align-self:flex-start;max-width:90%}
.choice{font:inherit;font-size:.9375rem;text-align:start;padding:.45rem .8rem;border-radius:1.1rem;min-height:44px;background:transparent;color:var(--accent);border:1.5px solid var(--accent);cursor:pointer}
.msg.typing{min-width:3.6rem} @keyframes pulse{50%{opacity:.3}}
.msg.typing::after{content:"\\2022\\2009\\2022\\2009\\2022";color:var(--muted);animation:pulse 1.2s ease-in-out infinite}
.notice{margin:0 .75rem .5rem;padding:.75rem 1rem;text-align:center;background:var(--surface);border:1px solid var(--danger);border-radius:12px}
.notice strong{display:block;color:var(--danger)} .notice p{margin:.25rem 0 0;font-size:.875rem}
.retry{min-height:44px;margin-top:.6rem;padding:0 1.25rem;border-radius:22px;font-weight:600}
.status{margin:0;padding:.35rem 1rem;font-size:.875rem;color:var(--muted);text-align:center} .status:empty{padding:0}
.composer{display:flex;align-items:flex-end;gap:.5rem;margin:0;padding:.6rem .75rem;background:var(--surface);border-top:1px solid var(--border)}
.input{flex:1;min-width:0;min-height:2.75rem;max-height:8.5rem;margin:0;padding:.6rem .9rem;resize:none;font:inherit;font-size:15px;
line-height:1.4;color:var(--text);background:var(--bg);border:1px solid var(--border);border-radius:1.375rem}
.input::placeholder{color:var(--muted);opacity:1} .input:disabled{opacity:.6}
.counter{align-self:center;font-size:.75rem;color:var(--muted);white-space:nowrap} .counter.over{color:var(--danger);font-weight:700}
.send{flex:none;width:2.75rem;height:2.75rem}
@media (max-width:480px){.panel{inset:0;width:auto;max-width:none;height:auto;border:0;border-radius:0}
:host([data-open="true"]) .bubble{display:none} .head{padding-top:calc(.4rem + env(safe-area-inset-top))}
.composer{padding-bottom:calc(.6rem + env(safe-area-inset-bottom))} .input{font-size:16px} /* less makes iOS zoom on focus */}
@media (prefers-reduced-motion:reduce){.panel,.bubble,.msg.typing::after{animation:none;transition:none}}
`;

  // ---- DOM: built from our own strings; server and visitor text only ever goes in as text nodes ----

  function h(tag, attrs = {}, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    el.append(...kids);
    return el;
  }

  // DOM APIs rather than innerHTML, so pages enforcing Trusted Types still work.
  function icon(d, size) {
    const ns = 'http://www.w3.org/2000/svg', svg = document.createElementNS(ns, 'svg');
    const path = svg.appendChild(document.createElementNS(ns, 'path'));
    for (const [k, v] of Object.entries({ viewBox: '0 0 24 24', width: size, height: size, 'aria-hidden': 'true' })) {
      svg.setAttribute(k, v);
    }
    path.setAttribute('fill', 'currentColor');
    path.setAttribute('d', d);
    return svg;
  }

  const root = h('div', { id: 'chatlink-widget', 'data-state': 'closed', 'data-open': 'false' });
  const shadow = root.attachShadow({ mode: 'open' });
  const badge = h('span', { class: 'badge', hidden: '' });
  const launcher = h('span');
  const bubbleBtn = h('button', { type: 'button', class: 'bubble', 'aria-expanded': 'false' },
    icon('M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2z', 28), launcher, badge);
  const logo = h('img', { class: 'logo', alt: '', hidden: '' });
  const title = h('span', { class: 'title' });
  const closeBtn = h('button', { type: 'button', class: 'close' },
    icon('M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12z', 22));
  // The log is not live: a finished reply is read out once, whole, by `announcer`.
  const list = h('div', { class: 'messages', role: 'log', 'aria-live': 'off' });
  const announcer = h('p', { class: 'sr', 'aria-live': 'polite' });
  const noticeTitle = h('strong'), noticeText = h('p');
  const retryBtn = h('button', { type: 'button', class: 'retry' });
  const notice = h('div', { class: 'notice', role: 'alert', hidden: '' }, noticeTitle, noticeText, retryBtn);
  const statusEl = h('p', { class: 'status', role: 'status' });
  const input = h('textarea', { class: 'input', rows: '1', enterkeyhint: 'send', dir: 'auto' });
  const counter = h('span', { class: 'counter', hidden: '' });
  const sendBtn = h('button', { type: 'submit', class: 'send', disabled: '' },
    icon('M3.4 20.4 21 12 3.4 3.6 3.3 10l12.4 2-12.4 2z', 22));
  const form = h('form', { class: 'composer', novalidate: '' }, input, counter, sendBtn);
  const panel = h('div', { class: 'panel', role: 'dialog', hidden: '' },
    h('div', { class: 'head' }, logo, title, closeBtn), list, notice, statusEl, announcer, form);

  // The look and the words the server chose for this visitor (see /api/v1/widget/config).
  function applyConfig(c) {
    S = c.strings || {};
    const look = c.look || {}, pal = look.palette || {};
    for (const [k, v] of [['--al', pal.accent], ['--ol', pal.on_accent], ['--ad', pal.accent_dark], ['--od', pal.on_accent_dark],
      ['--team', JSON.stringify(t('chat.team'))], ['--not-sent', JSON.stringify(t('chat.not_sent'))]]) if (v) root.style.setProperty(k, v);
    root.dataset.side = look.side === 'left' ? 'left' : 'right';
    panel.lang = c.lang || 'en';
    panel.dir = c.dir === 'rtl' ? 'rtl' : 'ltr';
    title.textContent = c.title || t('widget.title');
    panel.setAttribute('aria-label', title.textContent);
    greeting = c.greeting || '';
    suggestions = Array.isArray(c.suggestions) ? c.suggestions : [];
    if (look.logo) { logo.src = apiBase + look.logo; logo.hidden = false; }
    launcher.textContent = look.launcher || '';
    bubbleBtn.classList.toggle('label', !!look.launcher);
    closeBtn.setAttribute('aria-label', t('widget.close'));
    retryBtn.textContent = t('widget.retry');
    input.placeholder = t('composer.placeholder');
    input.setAttribute('aria-label', t('composer.label'));
    sendBtn.setAttribute('aria-label', t('composer.send'));
    showUnread();
  }

  // Replies that came while the panel was closed are counted on the bubble.
  let unread = 0, greeting = '', suggestions = [];
  function showUnread() {
    badge.hidden = !unread;
    badge.textContent = unread > 9 ? '9+' : String(unread);
    bubbleBtn.setAttribute('aria-label', t('widget.open') + (unread ? ', ' + t('widget.unread', { count: unread }) : ''));
  }
  // A reply that just finished: read out once, and counted while the panel is closed.
  function arrived(el) {
    announcer.textContent = el.textContent;
    if (!isOpen) { unread++; showUnread(); }
  }

  // A constructable sheet is not subject to the page's style-src CSP; <style> covers older browsers.
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    shadow.adoptedStyleSheets = [sheet];
  } catch { shadow.append(h('style', {}, CSS)); }
  shadow.append(bubbleBtn, panel);

  // ---- State ----

  let state = 'closed', isOpen = false, loaded = false, work = Promise.resolve(), retrying = null;
  let stream = null; // { lastId, failures, ctrl, bubble, turnId } of the turn being streamed
  // The conversation stream (a person from the team writing): { lastId, failures, ctrl }, followed
  // only while the panel is open so an idle tab never asks the site for tokens. `feedFrom` is
  // where it picks up again; null until the end user has a conversation.
  let feed = null, feedFrom = null;
  let token = null, refreshing = null, refreshTimer = 0;

  function setState(next) {
    state = next;
    root.dataset.state = next;
    updateComposer();
    schedule();
  }
  // After a load or a turn, the panel's visibility picks the resting state.
  const settle = () => setState(isOpen ? 'idle' : 'closed');
  const setStatus = (text) => { statusEl.textContent = text || ''; };
  const readJson = (res) => res.json().catch(() => ({}));
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  // Code points, not UTF-16 units, so an emoji counts once as on the server.
  const charCount = (s) => [...s].length;

  // ---- Tokens ----

  function decode(jwt) {
    if (typeof jwt !== 'string' || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(jwt)) return null;
    try {
      const { exp, iat, app } = JSON.parse(atob(jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
      // exp > iat also rules out a zero lifetime, which would make the refresh timer spin.
      return Number.isFinite(exp) && Number.isFinite(iat) && exp > iat ? { jwt, exp, iat, app } : null;
    } catch { return null; }
  }

  // Deadlines run from when we got the token, on the local clock, so client clock skew does not matter.
  function useToken(t, initial) {
    const now = Date.now(), life = (t.exp - t.iat) * 1000, lead = Math.min(60000, life / 3);
    t.expiresAt = now + life;
    t.due = now + life - lead;
    if (initial) { // a token baked into a cached page may be older than this page load
      t.expiresAt = Math.min(t.expiresAt, t.exp * 1000);
      t.due = Math.min(t.due, t.exp * 1000 - lead);
    }
    token = t;
    schedule();
  }

  // Concurrent callers share one call to the site's backend.
  function refresh() {
    refreshing ??= (async () => {
      const t = decode(await cfg.fetchToken()); // looked up per call: sites may swap it after load
      if (!t) throw new Error('fetchToken gave no usable token');
      useToken(t, false);
    })().finally(() => { refreshing = null; });
    return refreshing;
  }

  // Runs only while the panel is open or a reply is on its way, to spare the site's backend on idle tabs.
  function schedule() {
    clearTimeout(refreshTimer);
    const t = token;
    const wanted = (isOpen || stream || state === 'sending') && state !== 'expired' && state !== 'error';
    if (!t || t.failed || !wanted) return;
    // A failure is not fatal (the next 401 renews); flagged so state changes do not retry it again and again.
    const run = () => refresh().catch(() => { t.failed = true; });
    const wait = t.due - Date.now();
    if (wait > 0) refreshTimer = setTimeout(run, Math.min(wait, MAX_TIMEOUT));
    else run(); // at once, so a request made right after this waits for the new token
  }

  // A failed renewal is final until the visitor asks again: never loop on the site's backend.
  const renew = () => refresh().catch(() => { expire(); throw ENDED; });
  const authed = (path, init, t) =>
    fetch(apiBase + path, { ...init, headers: { ...init.headers, Authorization: 'Bearer ' + t.jwt } });

  // A usable session token, renewed first if needed (the site's backend may be slow).
  async function fresh() {
    if (link) return; // a chat link is its own credential
    if (state === 'expired') throw ENDED;
    if (refreshing) await refreshing.catch(() => {});
    if (!token || Date.now() >= token.expiresAt) await renew();
  }

  // A chat link's routes sit under the link itself; a widget app's under /api/v1/chat.
  const paths = link ? {
    history: () => 'history?conversation_id=' + encodeURIComponent(conv), post: '',
    turn: (id) => encodeURIComponent(id) + '/sse', turnPoll: (id) => encodeURIComponent(id) + '/frames',
    feed: () => 'events?conversation_id=' + encodeURIComponent(conv), feedPoll: () => 'frames?conversation_id=' + encodeURIComponent(conv),
  } : {
    history: () => '/api/v1/chat/history', post: '/api/v1/chat/messages',
    turn: (id) => `/api/v1/chat/turns/${encodeURIComponent(id)}/events`, turnPoll: (id) => `/api/v1/chat/turns/${encodeURIComponent(id)}/frames`,
    feed: () => '/api/v1/chat/events', feedPoll: () => '/api/v1/chat/frames',
  };
  // The link's conversation is kept in this browser, per link (an app's is found by its user id).
  const KEY = 'chatlink:' + (link ? link.href : '');
  let conv = null;
  try { conv = link && localStorage.getItem(KEY); } catch { /* storage blocked: a new conversation per page */ }
  const remember = (id) => { conv = id; try { localStorage.setItem(KEY, id); } catch { /* as above */ } };
  // Both surfaces' answers: the widget API's camelCase names or the chat link's snake_case.
  const get = (d, k) => d[k] ?? d[k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())];

  async function api(path, init = {}) {
    if (link) return fetch(link.href + path, init);
    await fresh();
    const sent = token;
    const res = await authed(path, init, sent);
    if (res.status !== 401) { sent.proven = true; return res; }
    // Another request's renewal failed while this one was in flight: the session has ended.
    if (state === 'expired') throw ENDED;
    // A token that a 401's renewal just gave, refused before any request got through with it:
    // that renewal failed, and renewing again would ask the site's backend in a loop.
    if (sent.afterRefusal && !sent.proven) { expire(); throw ENDED; }
    // If someone renewed while this request was in flight, their token is the one to try.
    if (token === sent) { await renew(); token.afterRefusal = true; }
    const retried = token;
    const again = await authed(path, init, retried);
    if (again.status === 401) { expire(); throw ENDED; }
    retried.proven = true;
    return again;
  }

  // ---- Rendering ----

  const nearBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 96;
  const scrollDown = () => { list.scrollTop = list.scrollHeight; };
  const roleClass = (role) => (role === 'user' || role === 'owner' ? role : 'assistant');
  const findMessage = (id) => [...list.querySelectorAll('[data-id]')].find((el) => el.dataset.id === String(id));

  // Replies render their Markdown; the visitor's own words and notices stay plain text.
  function show(el, text) {
    text = String(text ?? '');
    if (/^msg (assistant|owner)/.test(el.className)) { el.replaceChildren(renderRich(text)); el.classList.add('rich'); }
    else el.textContent = text;
  }

  function addBubble(kind, text, id) {
    const follow = nearBottom(); // only follow new content if the visitor has not scrolled up to read
    const el = h('div', { class: 'msg ' + kind, dir: 'auto' });
    show(el, text);
    if (id != null) el.dataset.id = id;
    list.append(el);
    if (follow || kind === 'user') scrollDown();
    return el;
  }

  // aria-busy asks screen readers to wait for the reply instead of reading the typing dots.
  function setTyping(el, on) {
    el.classList.toggle('typing', on);
    if (on) el.setAttribute('aria-busy', 'true'); else el.removeAttribute('aria-busy');
  }

  // History and a replayed stream overlap: a message already shown is updated, never added twice.
  // Live messages of the team or the agent are announced (and counted while the panel is closed).
  function putMessage(m, bubble) {
    let el = findMessage(m.id);
    const isNew = !el;
    if (el && bubble && el !== bubble) bubble.remove();
    else if (!el) el = bubble;
    if (!el) el = addBubble(roleClass(m.role), m.content, m.id);
    else {
      const follow = nearBottom();
      setTyping(el, false);
      el.className = 'msg ' + roleClass(m.role);
      show(el, m.content);
      el.dataset.id = m.id;
      if (follow) scrollDown();
    }
    if (isNew && m.role !== 'user') arrived(el);
  }

  function updateComposer() {
    const n = charCount(input.value.trim());
    input.disabled = state === 'expired' || state === 'error';
    sendBtn.disabled = state !== 'idle' || n === 0 || n > MAX_CHARS;
    counter.hidden = n < COUNTER_FROM;
    counter.textContent = `${n} / ${MAX_CHARS}`;
    counter.classList.toggle('over', n > MAX_CHARS);
  }

  // Grow with the text up to the CSS max-height (about 5 lines), then scroll inside.
  function autosize() {
    input.style.height = 'auto';
    if (input.scrollHeight) input.style.height = input.scrollHeight + 2 + 'px';
  }

  // expired and error: stop everything and explain inside the panel.
  function block(next, heading, text, canRetry) {
    const hadFocus = shadow.activeElement;
    stopStream();
    stopFeed();
    setState(next);
    setStatus('');
    noticeTitle.textContent = heading;
    noticeText.textContent = text;
    retryBtn.hidden = !canRetry;
    notice.hidden = false;
    if (hadFocus && canRetry) retryBtn.focus(); // the textarea was just disabled under the visitor
  }
  const expire = () => block('expired', t('widget.ended_title'), t('widget.ended'), true);
  const fail = (message, canRetry) => block('error', t('widget.unavailable_title'), message || t('widget.unavailable'), canRetry);
  // An answer's code picks its sentence from the catalog.
  const said = (data, key) => S['error.' + data?.code] || t(key);
  // A refusal that retrying cannot fix: another website, a revoked link or app.
  const final = (res) => res.status === 401 || res.status === 403 || res.status === 404;

  // ---- Conversation ----

  async function loadHistory() {
    notice.hidden = true;
    setStatus('');
    setState('loading');
    let res = null, data = {};
    try {
      // A chat link without a conversation in this browser has no history yet.
      if (!link || conv) {
        res = await api(paths.history(), { headers: { Accept: 'application/json' } });
        data = await readJson(res);
        if (link && res.status === 404 && data.code === 'not_found') { conv = null; res = { ok: true }; data = {}; }
      } else res = { ok: true };
    } catch (err) { if (err === ENDED) return; }
    if (!res?.ok) return fail(res ? said(data, 'widget.unavailable') : t('widget.unreachable'), !res || !final(res));
    loaded = true;
    // History is the truth: render it afresh, so a reload after "Try again" shows nothing twice.
    list.replaceChildren();
    const hello = data.greeting ?? greeting;
    if (hello) addBubble('assistant greeting', hello);
    for (const m of data.messages || []) addBubble(roleClass(m.role), m.content, m.id);
    // Suggestions are for a first question, not a conversation under way.
    if (!(data.messages || []).length) offer(suggestions);
    settle();
    scrollDown();
    if (get(data, 'runningTurnId')) streamTurn(get(data, 'runningTurnId'));
    if (get(data, 'conversationId') || conv) { feedFrom = get(data, 'lastEventId') || 0; follow(); }
  }

  // Questions to tap: under the greeting, and after a reply that asks which one was meant.
  // Tapping one sends it; any message sent takes the offered ones away.
  function offer(questions) {
    const shown = (questions || []).filter((q) => typeof q === 'string' && q.trim()).slice(0, 3);
    if (!shown.length) return;
    const follow = nearBottom();
    const group = h('div', { class: 'choices', role: 'group', 'aria-label': t('chat.suggestions') });
    for (const q of shown) {
      const b = h('button', { type: 'button', class: 'choice', dir: 'auto' });
      b.textContent = q;
      b.addEventListener('click', () => post(q));
      group.append(b);
    }
    list.append(group);
    if (follow) scrollDown();
  }

  async function post(text) {
    const content = String(text ?? '').trim(), n = charCount(content);
    if (state !== 'idle' || n === 0 || n > MAX_CHARS) return false;
    setState('sending');
    setStatus('');
    list.querySelectorAll('.choices').forEach((g) => g.remove());
    const mine = addBubble('user', content);
    let res = null, data = {}, ended = false;
    try {
      const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
      const body = link && conv ? { content, conversation_id: conv } : { content };
      res = await api(paths.post, { method: 'POST', headers, body: JSON.stringify(body) });
      data = await readJson(res);
    } catch (err) { ended = err === ENDED; }
    if (res?.ok) {
      if (get(data, 'messageId')) mine.dataset.id = get(data, 'messageId');
      if (link) remember(get(data, 'conversationId'));
      streamTurn(get(data, 'turnId'));
      // The first message starts the conversation: follow it from its start (this turn is skipped).
      if (feedFrom === null) { feedFrom = 0; follow(); }
      return true;
    }
    mine.classList.add('failed');
    if (ended) return false;
    if (res && final(res)) return fail(said(data, 'widget.unavailable'), false), false;
    settle();
    const wait = res?.status === 429 ? parseInt(res.headers.get('Retry-After'), 10) : 0;
    setStatus((res ? said(data, 'send.failed') : t('send.offline')) + (wait > 0 ? ' ' + t('send.wait', { seconds: wait }) : ''));
    return false;
  }

  function stopStream() {
    const s = stream;
    if (!s) return;
    stream = null;
    s.ctrl?.abort();
    if (!s.bubble) return;
    setTyping(s.bubble, false);
    if (!s.bubble.textContent) s.bubble.remove();
  }

  function endTurn(s, status, message) {
    if (stream !== s) return;
    stopStream();
    if (status === 'error') addBubble('error', message || t('reply.failed'));
    setStatus(status === 'lost' ? t('status.lost') : '');
    settle();
  }

  // Each frame is applied once: ids at or below the last applied one are replays after a reconnect.
  function apply(s, ev) {
    const id = parseInt(ev.id, 10);
    if (ev.data === undefined || id <= s.lastId) return false;
    if (id > s.lastId) s.lastId = id;
    s.failures = 0;
    let d;
    try { d = JSON.parse(ev.data); } catch { return true; }
    if (ev.event === 'delta') {
      const follow = nearBottom();
      if (!s.bubble) { s.bubble = addBubble('assistant', ''); s.text = ''; } // a turn may hold several messages
      setTyping(s.bubble, false);
      // The whole text so far is rendered again: Markdown only makes sense once it is closed.
      show(s.bubble, s.text += String(d.text ?? ''));
      if (follow) scrollDown();
    } else if (ev.event === 'message') {
      // An owner's message never takes over the reply being streamed.
      putMessage(d, d.role === 'assistant' ? s.bubble : null);
      if (d.role === 'assistant') s.bubble = null;
    } else if (ev.event === 'done') {
      endTurn(s, d.status, S['turn.' + d.code] || d.message);
      if (Array.isArray(d.choices)) offer(d.choices);
    }
    return true;
  }

  // fetch rather than EventSource, which cannot send the Authorization header.
  // Resolves, when the body ends or `alive()` turns false, to whether any frame was applied.
  async function readEvents(res, onEvent, alive) {
    const reader = res.body.getReader(), decoder = new TextDecoder();
    let buf = '', ev = {}, applied = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return applied;
      buf += decoder.decode(value, { stream: true });
      // Split on \n and trim \r: a \r\n torn across two chunks must not read as a blank line.
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const raw of lines) {
        const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
        if (line === '') {
          applied = onEvent(ev) || applied;
          ev = {};
          if (!alive()) return applied;
        } else if (line[0] !== ':') {
          const i = line.indexOf(':');
          const field = i < 0 ? line : line.slice(0, i), val = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
          if (field === 'data') ev.data = ev.data === undefined ? val : ev.data + '\n' + val;
          else if (field === 'id' || field === 'event') ev[field] = val;
        }
      }
    }
  }

  // Aborts the request when its answer has not begun within OPEN_WITHIN, and switches to polling.
  // Returns the call that says the answer began.
  function watchOpen(ctrl) {
    const timer = setTimeout(() => { polling = true; ctrl.abort(); }, OPEN_WITHIN);
    return () => clearTimeout(timer);
  }

  // One long-poll of `path` after `lastId`: the frames, [] when none came, null on 204 (a turn
  // that is over), or the failed answer.
  // An answer that is not ours (a proxy's page) or an empty one that came at once is a failure
  // (undefined), so a broken path backs off instead of polling in a tight loop.
  async function pollOnce(path, lastId, ctrl) {
    const q = (path.includes('?') ? '&' : '?') + 'wait=25' + (lastId ? '&after=' + lastId : '');
    const started = Date.now();
    const res = await api(path + q, { headers: { Accept: 'application/json' }, signal: ctrl.signal });
    if (res.status === 204) return null;
    if (!res.ok) return res;
    const { frames } = await readJson(res);
    if (!Array.isArray(frames) || (!frames.length && Date.now() - started < 1000)) return undefined;
    return frames.map((f) => ({ id: String(f.id), event: f.event, data: f.data }));
  }

  // A turn's stream refused for good: the turn is gone (404), or the chat is over for this page.
  async function refused(s, res) {
    const data = await readJson(res);
    if (res.status === 404 && data.code === 'not_found') return endTurn(s, 'error', t('reply.interrupted'));
    fail(said(data, 'widget.unavailable'), false);
  }

  async function streamTurn(turnId) {
    stopStream();
    const bubble = addBubble('assistant', '');
    setTyping(bubble, true);
    const s = (stream = { lastId: 0, failures: 0, ctrl: null, bubble, turnId, text: '' });
    setState('streaming');
    const path = paths.turn(turnId);
    while (stream === s) {
      if (polling) return pollTurn(s);
      const started = Date.now(), headers = { Accept: 'text/event-stream' };
      if (s.lastId) headers['Last-Event-ID'] = String(s.lastId);
      let res = null, applied = false, broken = false;
      s.ctrl = new AbortController();
      let opened = () => {};
      try {
        // The open timer times the stream, not the site's token backend.
        await fresh();
        opened = watchOpen(s.ctrl);
        res = await api(path, { headers, signal: s.ctrl.signal });
        opened();
        // 204: the turn is over and this widget has all of it.
        if (res.status === 204) return endTurn(s, 'ok');
        if (res.ok) {
          setStatus('');
          applied = await readEvents(res, (ev) => apply(s, ev), () => stream === s);
        }
      } catch (err) {
        opened();
        if (err === ENDED) return;
        broken = true;
      }
      if (stream !== s) return;
      if (polling) continue;
      // The server ends streams when their token expires and on restarts: resume at once. Only an end
      // that came at once and brought nothing counts as a failure, so a bad proxy cannot make us spin.
      if (res?.ok && !broken && (applied || Date.now() - started >= 1000)) continue;
      if (res && final(res)) return refused(s, res);
      if (++s.failures > MAX_FAILURES) return endTurn(s, 'lost');
      setStatus(t('status.reconnecting'));
      await sleep(1000 * 2 ** (s.failures - 1));
    }
  }

  // The same turn by long-poll, from the last frame applied.
  async function pollTurn(s) {
    const path = paths.turnPoll(s.turnId);
    while (stream === s) {
      let got = undefined;
      s.ctrl = new AbortController();
      try { got = await pollOnce(path, s.lastId, s.ctrl); } catch (err) { if (err === ENDED) return; }
      if (stream !== s) return;
      if (got === null) return endTurn(s, 'ok');
      if (Array.isArray(got)) {
        setStatus('');
        for (const ev of got) { apply(s, ev); if (stream !== s) return; }
        continue;
      }
      if (got && final(got)) return refused(s, got);
      if (++s.failures > MAX_FAILURES) return endTurn(s, 'lost');
      setStatus(t('status.reconnecting'));
      await sleep(1000 * 2 ** (s.failures - 1));
    }
  }

  // Frames of the conversation stream: only whole messages the widget did not ask for itself.
  function applyFeed(f, ev) {
    const id = parseInt(ev.id, 10);
    if (ev.data === undefined || !(id > f.lastId)) return false;
    f.lastId = feedFrom = id;
    f.failures = 0;
    if (ev.event !== 'message') return true;
    let m;
    try { m = JSON.parse(ev.data); } catch { return true; }
    if (!(stream && m.turn_id === stream.turnId)) putMessage(m);
    return true;
  }

  function stopFeed() {
    const f = feed;
    feed = null;
    f?.ctrl?.abort();
  }

  // Same loop as a turn's stream: resume at once when the server ends it (the token expired),
  // back off when it fails, give up quietly (the turn streams still work) after a few failures.
  // It keeps following while the panel is closed, so a reply from the team shows on the bubble;
  // a widget app's only until its session is due for renewal, so an idle tab never asks the
  // site's backend for tokens (opening the panel follows again).
  const idle = () => !isOpen && !link && (!token || Date.now() >= token.due);
  async function follow() {
    if (feed || feedFrom === null || state === 'expired' || state === 'error') return;
    const f = (feed = { lastId: feedFrom, failures: 0, ctrl: null });
    while (feed === f) {
      if (idle()) { feed = null; return; }
      if (polling) return pollFeed(f);
      const started = Date.now(), headers = { Accept: 'text/event-stream' };
      if (f.lastId) headers['Last-Event-ID'] = String(f.lastId);
      let res = null, applied = false, broken = false;
      f.ctrl = new AbortController();
      let opened = () => {};
      try {
        await fresh();
        opened = watchOpen(f.ctrl);
        res = await api(paths.feed(), { headers, signal: f.ctrl.signal });
        opened();
        if (res.ok) applied = await readEvents(res, (ev) => applyFeed(f, ev), () => feed === f);
      } catch (err) {
        opened();
        if (err === ENDED) return;
        broken = true;
      }
      if (feed !== f) return;
      if (polling) continue;
      if (res?.ok && !broken && (applied || Date.now() - started >= 1000)) continue;
      if (res && !res.ok && res.status !== 429 && res.status < 500) { feed = null; return; }
      if (++f.failures > MAX_FAILURES) { feed = null; return; }
      await sleep(1000 * 2 ** (f.failures - 1));
    }
  }

  async function pollFeed(f) {
    while (feed === f) {
      let got = undefined;
      f.ctrl = new AbortController();
      try { got = await pollOnce(paths.feedPoll(), f.lastId, f.ctrl); } catch (err) { if (err === ENDED) return; }
      if (feed !== f) return;
      if (Array.isArray(got)) { for (const ev of got) applyFeed(f, ev); continue; }
      if (got && got.status !== 429 && got.status < 500) { feed = null; return; }
      if (++f.failures > MAX_FAILURES) { feed = null; return; }
      await sleep(1000 * 2 ** (f.failures - 1));
    }
  }

  // ---- Panel ----

  function retry() {
    retrying ??= (async () => {
      retryBtn.disabled = true;
      try {
        if (state === 'expired') await refresh();
        await loadHistory();
      } catch { /* still no token: the notice stays */ }
      retryBtn.disabled = false;
    })().finally(() => { retrying = null; });
    return retrying;
  }

  function setOpen(on) {
    isOpen = on;
    root.dataset.open = String(on);
    bubbleBtn.setAttribute('aria-expanded', String(on));
    panel.hidden = !on;
  }

  function open() {
    if (!isOpen) { setOpen(true); autosize(); scrollDown(); }
    unread = 0;
    showUnread();
    if (state === 'expired') work = retry(); // opening counts as the visitor asking again
    else if (state === 'closed' && !loaded) work = loadHistory();
    else if (state === 'closed') setState('idle');
    follow();
    schedule();
    input.focus();
    return work;
  }

  function close() {
    if (!isOpen) return;
    const hadFocus = shadow.activeElement; // a site's own button keeps its focus
    setOpen(false);
    // A reply on its way keeps streaming, so it is there on reopen.
    if (state === 'idle') setState('closed');
    else schedule();
    if (hadFocus) bubbleBtn.focus();
  }

  function submitComposer() {
    if (sendBtn.disabled) return; // the button's rules: idle, not empty, within the limit
    const text = input.value;
    input.value = '';
    autosize();
    post(text);
  }

  bubbleBtn.addEventListener('click', () => (isOpen ? close() : open()));
  closeBtn.addEventListener('click', close);
  retryBtn.addEventListener('click', retry);
  form.addEventListener('submit', (ev) => { ev.preventDefault(); submitComposer(); });
  input.addEventListener('input', () => { updateComposer(); autosize(); });
  input.addEventListener('keydown', (ev) => {
    // isComposing: Enter also confirms IME input (Japanese, Chinese...) and must not send then.
    if (ev.key !== 'Enter' || ev.shiftKey || ev.isComposing) return;
    ev.preventDefault();
    submitComposer();
  });
  shadow.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && isOpen && !ev.isComposing) close(); });

  cfg.open = open;
  cfg.close = close;
  // Resolves to false when the chat is busy or unavailable and nothing was posted.
  cfg.send = async (text) => { await open(); return post(text); };

  // The bubble shows once the server has said how it looks and what it says. A site the link or
  // app does not allow, or a link that no longer works, gets no bubble at all.
  async function boot() {
    const initial = decode(cfg.token);
    if (initial) useToken(initial, true);
    let app = cfg.appId || initial?.app;
    if (!link && !app) { try { await refresh(); app = token.app; } catch { /* the config call says no */ } }
    const url = link ? link.href + 'widget' : apiBase + '/api/v1/widget/config?app=' + encodeURIComponent(app || '');
    for (let tries = 0; ; tries++) {
      const res = await fetch(url, { headers: { Accept: 'application/json' } }).catch(() => null);
      if (res?.ok) { applyConfig(await readJson(res)); break; }
      if ((res && final(res)) || tries >= MAX_FAILURES) return;
      await sleep(2000 * 2 ** tries);
    }
    // From <head> there is no <body> yet; an async load after DOMContentLoaded mounts at once.
    const mount = () => document.body.append(root);
    if (document.body) mount();
    else document.addEventListener('DOMContentLoaded', mount, { once: true });
    if (link && conv) { feedFrom = 0; loadHistory(); } // a returning visitor: the team may have replied
  }
  boot();
})();
