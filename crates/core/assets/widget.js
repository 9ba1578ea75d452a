/* Chatlink chat widget for customers' pages: one dependency-free IIFE, styles sealed in a Shadow DOM. */
(() => {
  'use strict';

  // XYZChat is the name an existing snippet format uses; ours wins when a page sets both.
  const cfg = window.ChatlinkChat || window.XYZChat;
  const LOADED = Symbol.for('chatlink.widget');
  if (!cfg || typeof cfg !== 'object' || window[LOADED]) return;
  window[LOADED] = true;

  // currentScript is only set while the script first runs, so read it before anything async.
  const scriptSrc = document.currentScript?.src;
  // cfg.chatHost is accepted for old snippets but ignored: Chatlink serves everything from host.
  const apiBase = String(cfg.host || (scriptSrc ? new URL(scriptSrc).origin : '')).replace(/\/+$/, '');

  const MAX_CHARS = 4000, COUNTER_FROM = 3500, MAX_FAILURES = 4, MAX_TIMEOUT = 2 ** 31 - 1;
  // A stream whose answer has not begun by then is held by something on the way (a proxy that
  // sends only whole answers): from then on frames come by long-poll, whose answers are short.
  const OPEN_WITHIN = 4000;
  let polling = false;
  // Thrown once the widget has switched to a notice, so callers just stop.
  const ENDED = new Error('chat session ended');
  // Non-ASCII as escapes: a page may run this script under its own legacy charset.
  const ELLIPSIS = '\u2026';

  const CSS = `
:host{all:initial;color-scheme:light dark;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
--bg:#f5f6f8;--surface:#fff;--text:#1a1c1f;--muted:#565c66;--border:#d5d9df;--accent:#1d4ed8;--on-accent:#fff;--agent:#fff;
--owner:#fff6e5;--owner-edge:#9a4a06;--danger:#b42318;--focus:#1d4ed8;color:var(--text)}
@media (prefers-color-scheme:dark){:host{--bg:#121417;--surface:#1b1e22;--text:#e8eaed;--muted:#a7adb7;--border:#343a42;
--accent:#2563eb;--agent:#23272d;--owner:#2c2416;--owner-edge:#f3ad5b;--danger:#ff8f85;--focus:#8ab4ff}}
*,*::before,*::after{box-sizing:border-box} [hidden]{display:none!important}
button{font:inherit;cursor:pointer;border:0;-webkit-tap-highlight-color:transparent} button:disabled{opacity:.4;cursor:default}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.bubble,.send,.close{display:grid;place-items:center;border-radius:50%} .bubble,.send,.retry{background:var(--accent);color:var(--on-accent)}
.bubble{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:56px;height:56px;box-shadow:0 4px 14px rgba(0,0,0,.25);transition:transform .15s}
.bubble:hover{transform:scale(1.05)}
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
.msg.user{align-self:flex-end;background:var(--accent);color:var(--on-accent);border:0;border-radius:1.1rem 1.1rem .35rem}
.msg.owner{background:var(--owner);border-color:var(--owner-edge)} .msg.error{border-color:var(--danger);color:var(--danger)}
/* Generated content keeps labels out of the message's textContent. */
.msg.owner::before{content:"Team";display:block;margin-bottom:.15rem;font-size:.75rem;font-weight:700;color:var(--owner-edge)}
.msg.failed{opacity:.7} .msg.failed::after{content:"Not sent";display:block;font-size:.75rem;text-align:right}
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
  const bubbleBtn = h('button', { type: 'button', class: 'bubble', 'aria-label': 'Open chat', 'aria-expanded': 'false' },
    icon('M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2z', 28));
  const title = h('span', { class: 'title' }, 'Chat');
  const closeBtn = h('button', { type: 'button', class: 'close', 'aria-label': 'Close chat' },
    icon('M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12z', 22));
  const list = h('div', { class: 'messages', role: 'log', 'aria-live': 'polite' });
  const noticeTitle = h('strong'), noticeText = h('p');
  const retryBtn = h('button', { type: 'button', class: 'retry' }, 'Try again');
  const notice = h('div', { class: 'notice', role: 'alert', hidden: '' }, noticeTitle, noticeText, retryBtn);
  const statusEl = h('p', { class: 'status', role: 'status' });
  const input = h('textarea', { class: 'input', rows: '1', placeholder: 'Type your message' + ELLIPSIS,
    'aria-label': 'Your message', enterkeyhint: 'send' });
  const counter = h('span', { class: 'counter', hidden: '' });
  const sendBtn = h('button', { type: 'submit', class: 'send', 'aria-label': 'Send', disabled: '' },
    icon('M3.4 20.4 21 12 3.4 3.6 3.3 10l12.4 2-12.4 2z', 22));
  const form = h('form', { class: 'composer', novalidate: '' }, input, counter, sendBtn);
  const panel = h('div', { class: 'panel', role: 'dialog', 'aria-label': 'Chat', hidden: '' },
    h('div', { class: 'head' }, title, closeBtn), list, notice, statusEl, form);

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
  // Server messages follow Rust's lowercase style; a sentence on screen starts with a capital.
  const sentence = (text) => (text ? text[0].toUpperCase() + text.slice(1) : '');
  const setStatus = (text) => { statusEl.textContent = sentence(text); };
  const readJson = (res) => res.json().catch(() => ({}));
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  // Code points, not UTF-16 units, so an emoji counts once as on the server.
  const charCount = (s) => [...s].length;

  // ---- Tokens ----

  function decode(jwt) {
    if (typeof jwt !== 'string' || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(jwt)) return null;
    try {
      const { exp, iat } = JSON.parse(atob(jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
      // exp > iat also rules out a zero lifetime, which would make the refresh timer spin.
      return Number.isFinite(exp) && Number.isFinite(iat) && exp > iat ? { jwt, exp, iat } : null;
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
    if (state === 'expired') throw ENDED;
    if (refreshing) await refreshing.catch(() => {});
    if (!token || Date.now() >= token.expiresAt) await renew();
  }

  async function api(path, init = {}) {
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

  function addBubble(kind, text, id) {
    const follow = nearBottom(); // only follow new content if the visitor has not scrolled up to read
    const el = h('div', { class: 'msg ' + kind }, String(text ?? ''));
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
  function putMessage(m, bubble) {
    let el = findMessage(m.id);
    if (el && bubble && el !== bubble) bubble.remove();
    else if (!el) el = bubble;
    if (!el) return addBubble(roleClass(m.role), m.content, m.id);
    const follow = nearBottom();
    setTyping(el, false);
    el.className = 'msg ' + roleClass(m.role);
    el.textContent = String(m.content ?? '');
    el.dataset.id = m.id;
    if (follow) scrollDown();
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
    noticeText.textContent = sentence(text);
    retryBtn.hidden = !canRetry;
    notice.hidden = false;
    if (hadFocus && canRetry) retryBtn.focus(); // the textarea was just disabled under the visitor
  }
  const expire = () => block('expired', 'Chat session ended',
    "We couldn't renew your chat session. Try again, or reload the page.", true);
  const fail = (message, canRetry) =>
    block('error', 'Chat unavailable', message || 'The chat is not available right now.', canRetry);

  // ---- Conversation ----

  async function loadHistory() {
    notice.hidden = true;
    setStatus('');
    setState('loading');
    let res = null, data = {};
    try {
      res = await api('/api/v1/chat/history', { headers: { Accept: 'application/json' } });
      data = await readJson(res);
    } catch (err) { if (err === ENDED) return; }
    if (!res?.ok) return fail(res ? data.message : 'Could not reach the chat. Check your connection.', res?.status !== 403);
    loaded = true;
    title.textContent = data.name || 'Chat';
    panel.setAttribute('aria-label', title.textContent);
    // History is the truth: render it afresh, so a reload after "Try again" shows nothing twice.
    list.replaceChildren();
    if (data.greeting) addBubble('assistant greeting', data.greeting);
    for (const m of data.messages || []) addBubble(roleClass(m.role), m.content, m.id);
    settle();
    scrollDown();
    if (data.runningTurnId) streamTurn(data.runningTurnId);
    if (data.conversationId) { feedFrom = data.lastEventId || 0; follow(); }
  }

  async function post(text) {
    const content = String(text ?? '').trim(), n = charCount(content);
    if (state !== 'idle' || n === 0 || n > MAX_CHARS) return false;
    setState('sending');
    setStatus('');
    const mine = addBubble('user', content);
    let res = null, data = {}, ended = false;
    try {
      const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
      res = await api('/api/v1/chat/messages', { method: 'POST', headers, body: JSON.stringify({ content }) });
      data = await readJson(res);
    } catch (err) { ended = err === ENDED; }
    if (res?.ok) {
      if (data.messageId) mine.dataset.id = data.messageId;
      streamTurn(data.turnId);
      // The first message starts the conversation: follow it from its start (this turn is skipped).
      if (feedFrom === null) { feedFrom = 0; follow(); }
      return true;
    }
    mine.classList.add('failed');
    if (ended) return false;
    if (res?.status === 403 || res?.status === 404) return fail(data.message, res.status !== 403), false;
    settle();
    // No extra text for 429: its message already says how long to wait.
    setStatus(res ? data.message || 'Could not send your message. Please try again.'
      : 'Could not send. Check your connection and try again.');
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
    if (status === 'error') addBubble('error', sentence(message) || 'Sorry, something went wrong. Please try again.');
    setStatus(status === 'lost' ? 'Connection lost. Try again later.' : '');
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
      s.bubble ??= addBubble('assistant', ''); // a turn may hold several assistant messages
      setTyping(s.bubble, false);
      s.bubble.append(String(d.text ?? ''));
      if (follow) scrollDown();
    } else if (ev.event === 'message') {
      // An owner's message never takes over the reply being streamed.
      putMessage(d, d.role === 'assistant' ? s.bubble : null);
      if (d.role === 'assistant') s.bubble = null;
    } else if (ev.event === 'done') {
      endTurn(s, d.status, d.message);
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

  async function streamTurn(turnId) {
    stopStream();
    const bubble = addBubble('assistant', '');
    setTyping(bubble, true);
    const s = (stream = { lastId: 0, failures: 0, ctrl: null, bubble, turnId });
    setState('streaming');
    const path = `/api/v1/chat/turns/${encodeURIComponent(turnId)}/events`;
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
      if (res?.status === 404) return endTurn(s, 'error', (await readJson(res)).message);
      if (res?.status === 403) return fail((await readJson(res)).message, false);
      if (++s.failures > MAX_FAILURES) return endTurn(s, 'lost');
      setStatus('Connection lost, reconnecting' + ELLIPSIS);
      await sleep(1000 * 2 ** (s.failures - 1));
    }
  }

  // The same turn by long-poll, from the last frame applied.
  async function pollTurn(s) {
    const path = `/api/v1/chat/turns/${encodeURIComponent(s.turnId)}/frames`;
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
      if (got?.status === 404) return endTurn(s, 'error', (await readJson(got)).message);
      if (got?.status === 403) return fail((await readJson(got)).message, false);
      if (++s.failures > MAX_FAILURES) return endTurn(s, 'lost');
      setStatus('Connection lost, reconnecting' + ELLIPSIS);
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
  async function follow() {
    if (feed || feedFrom === null || !isOpen || state === 'expired' || state === 'error') return;
    const f = (feed = { lastId: feedFrom, failures: 0, ctrl: null });
    while (feed === f) {
      if (polling) return pollFeed(f);
      const started = Date.now(), headers = { Accept: 'text/event-stream' };
      if (f.lastId) headers['Last-Event-ID'] = String(f.lastId);
      let res = null, applied = false, broken = false;
      f.ctrl = new AbortController();
      let opened = () => {};
      try {
        await fresh();
        opened = watchOpen(f.ctrl);
        res = await api('/api/v1/chat/events', { headers, signal: f.ctrl.signal });
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
      try { got = await pollOnce('/api/v1/chat/frames', f.lastId, f.ctrl); } catch (err) { if (err === ENDED) return; }
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
    stopFeed();
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

  const initial = decode(cfg.token);
  if (initial) useToken(initial, true);
  // From <head> there is no <body> yet; an async load after DOMContentLoaded mounts at once.
  const mount = () => document.body.append(root);
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount, { once: true });
})();
