// The chat page's script; the server wraps it with the reply renderer (rich.js) in one scope.
(() => {
  'use strict';

  const MAX_CHARS = 4000, COUNTER_FROM = 3500;
  const $ = (id) => document.getElementById(id);
  const [list, form, input, sendBtn, statusEl, counter, announcer] =
    ['messages', 'composer', 'input', 'send', 'status', 'counter', 'announce'].map($);

  let config = {};
  try { config = JSON.parse($('chatlink-config').textContent) || {}; } catch { /* run without greeting */ }
  // Every sentence comes from the server's catalog, in the visitor's language.
  const S = config.strings || {};
  const t = (key, vars = {}) => Object.entries(vars).reduce((s, [k, v]) => s.split('{' + k + '}').join(v), S[key] || key);
  // An answer's code picks its sentence; the server's own words are for codes the catalog lacks.
  const said = (data, key) => S['error.' + data.code] || t(key);

  // Replies that arrive while the visitor looks elsewhere show in the tab's title.
  const baseTitle = document.title;
  let unread = 0;
  const showUnread = () => { document.title = unread ? `(${unread}) ${baseTitle}` : baseTitle; };
  document.addEventListener('visibilitychange', () => { if (!document.hidden) { unread = 0; showUnread(); } });
  // A finished reply is read out once, whole, instead of piece by piece as it streams.
  function announce(el) {
    announcer.textContent = '';
    setTimeout(() => { announcer.textContent = el.textContent; }, 50);
    if (document.hidden) { unread++; showUnread(); }
  }

  // Keyed by path so two links on the same origin never share a conversation.
  const KEY = 'chatlink:' + location.pathname;
  // { conv, turn, eid, text }: conversation, running turn, last applied event id and its streamed text.
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(KEY)) || {}; } catch { /* storage unavailable */ }
  const persist = () => {
    try { localStorage.setItem(KEY, JSON.stringify(saved)); } catch { /* private mode: works until reload */ }
  };

  const MAX_REFUSALS = 4;
  // A stream that has not opened by then is held by something on the way (a proxy that sends
  // only whole answers); from then on the page long-polls, whose answers are short and pass.
  const OPEN_WITHIN = 4000;
  let polling = false;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const setTransport = () => { document.body.dataset.transport = polling ? 'poll' : 'sse'; };
  // Fetches one long-poll answer of `path`: frames, null on 204 (a finished turn), or the failed response.
  // An answer that is not ours (a proxy's page) or an empty one that came at once counts as a
  // failure, so a broken path backs off instead of polling in a tight loop.
  async function pollOnce(path, after) {
    const sep = path.includes('?') ? '&' : '?';
    const started = Date.now();
    const res = await fetch(path + sep + 'wait=25' + (after ? '&after=' + after : ''), { headers: { Accept: 'application/json' } })
      .catch(() => undefined);
    if (!res) return undefined;
    if (res.status === 204) return null;
    if (!res.ok) return res;
    const { frames } = await readJson(res);
    if (!Array.isArray(frames) || (!frames.length && Date.now() - started < 1000)) return undefined;
    return frames.map((f) => ({ lastEventId: String(f.id), type: f.event, data: f.data }));
  }
  // Closes the held streams and carries on by long-poll from the last frames they applied.
  function startPolling() {
    if (polling) return;
    polling = true;
    setTransport();
    if (source && source.es) {
      const { turnId, bubble } = source;
      closeSource();
      pollTurn(turnId, bubble);
    }
    if (feed && feed.readyState !== undefined) {
      const conv = feedConv;
      feed.close(); feed = null; feedConv = null;
      follow(conv, feedEid);
    }
  }
  let state = 'loading', source = null, lastEventId = 0, refusals = 0;
  // The conversation stream: replies the page did not ask for (a person from the team).
  let feed = null, feedConv = null, streamingTurn = null, feedEid = 0, feedTries = 0;

  const setState = (next) => { state = next; document.body.dataset.state = next; updateComposer(); };
  // Server messages follow Rust's lowercase style; a sentence on screen starts with a capital.
  const setStatus = (text) => { statusEl.textContent = text || ''; };
  // Count code points, not UTF-16 units, so emoji count once like on the server.
  const charCount = (s) => [...s].length;
  const readJson = (res) => res.json().catch(() => ({}));
  const closeSource = () => { source?.close(); source = null; };
  const roleClass = (role) => (role === 'user' || role === 'visitor' ? 'user' : role === 'owner' ? 'owner' : 'assistant');

  function updateComposer() {
    const n = charCount(input.value.trim());
    sendBtn.disabled = state !== 'idle' || n === 0 || n > MAX_CHARS;
    counter.hidden = n < COUNTER_FROM;
    counter.textContent = `${n} / ${MAX_CHARS}`;
    counter.classList.toggle('over', n > MAX_CHARS);
    // Grow with the text up to the CSS max-height, then scroll inside.
    input.style.height = 'auto';
    input.style.height = input.scrollHeight + 2 + 'px';
  }

  // Only follow new content if the visitor has not scrolled up to read.
  const nearBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 96;
  const scrollDown = () => { list.scrollTop = list.scrollHeight; };

  // Replies render their Markdown; the visitor's own words stay plain text. `dir=auto` lays a
  // message out in its own script's direction (an Arabic reply right to left).
  function show(el, text) {
    if (el.classList.contains('user') || el.classList.contains('note')) el.textContent = text;
    else { el.replaceChildren(renderRich(text)); el.classList.add('rich'); }
  }

  function addElement(className, text, id) {
    const follow = nearBottom();
    const el = document.createElement('div');
    el.className = className;
    el.dir = 'auto';
    show(el, text);
    if (id) el.dataset.id = id;
    list.appendChild(el);
    if (follow || className === 'msg user') scrollDown();
    return el;
  }
  const addMessage = (role, text, id) => addElement('msg ' + roleClass(role), text, id);

  // aria-busy asks screen readers to wait for the reply instead of reading the typing dots.
  const setTyping = (el, on) => {
    el.classList.toggle('typing', on);
    if (on) el.setAttribute('aria-busy', 'true'); else el.removeAttribute('aria-busy');
  };
  const findMessage = (id) => [...list.querySelectorAll('.msg[data-id]')].find((el) => el.dataset.id === String(id));

  // Show a finished message once: update it if already shown, else fill the bubble or append.
  // `live`: a message arriving now (announced), not one of the history.
  function putMessage(m, bubble, live) {
    const follow = nearBottom();
    let el = findMessage(m.id);
    const isNew = !el;
    if (!el && bubble && !bubble.dataset.id) el = bubble;
    else if (el && bubble && el !== bubble && !bubble.dataset.id) bubble.remove();
    if (!el) el = addMessage(m.role, m.content, m.id);
    else {
      el.classList.remove('user', 'assistant', 'owner');
      el.classList.add(roleClass(m.role));
      setTyping(el, false);
      show(el, m.content);
      el.dataset.id = m.id;
      if (follow) scrollDown();
    }
    if (live && isNew && roleClass(m.role) !== 'user') announce(el);
    return el;
  }

  // Follows the conversation from `after` (the history's last event id). EventSource reconnects on
  // its own with Last-Event-ID; a refused stream (revoked link) stays closed.
  // A refused stream (the server is busy) is tried again after growing pauses, from the last
  // event it delivered.
  function follow(conv, after) {
    if (!conv || feedConv === conv || state === 'closed') return;
    feed?.close();
    feedConv = conv;
    feedEid = after || 0;
    if (polling) return pollFeed(conv);
    const q = '?conversation_id=' + encodeURIComponent(conv) + (feedEid ? '&last_event_id=' + feedEid : '');
    const es = (feed = new EventSource('events' + q));
    const held = setTimeout(() => { if (feed === es && es.readyState === EventSource.CONNECTING) startPolling(); }, OPEN_WITHIN);
    es.onopen = () => { feedTries = 0; clearTimeout(held); };
    es.addEventListener('message', (ev) => feedFrame(ev));
    es.onerror = () => {
      if (feed !== es || es.readyState !== EventSource.CLOSED) return; // reconnecting by itself
      clearTimeout(held);
      feed = null; feedConv = null;
      if (state === 'closed' || feedTries >= MAX_REFUSALS) return;
      setTimeout(() => follow(conv, feedEid), 2000 * 2 ** feedTries++);
    };
  }

  function feedFrame(ev) {
    feedEid = Math.max(feedEid, parseInt(ev.lastEventId, 10) || 0);
    let m;
    try { m = JSON.parse(ev.data); } catch { return; }
    // The page's own turn arrives on its turn stream, with its typing bubble.
    if (m.turn_id && m.turn_id === streamingTurn) return;
    putMessage(m, null, true);
  }

  // The conversation stream by long-poll; stops quietly after a few refusals, like the stream.
  async function pollFeed(conv) {
    const me = { close() { this.closed = true; } };
    feed = me;
    while (!me.closed && state !== 'closed') {
      const got = await pollOnce('frames?conversation_id=' + encodeURIComponent(conv), feedEid);
      if (me.closed) return;
      if (Array.isArray(got)) {
        feedTries = 0;
        for (const f of got) if (f.type === 'message') feedFrame(f); else feedEid = Math.max(feedEid, parseInt(f.lastEventId, 10) || 0);
        continue;
      }
      if (got && got.status !== 429 && got.status < 500) break;
      if (feedTries >= MAX_REFUSALS) break;
      await sleep(2000 * 2 ** feedTries++);
    }
    if (feed === me) { feed = null; feedConv = null; }
  }

  function closeLink(message) {
    closeSource();
    feed?.close(); feed = null;
    input.disabled = true;
    setState('closed');
    setStatus(message || t('chat.closed'));
  }

  async function loadHistory() {
    if (!saved.conv || state === 'closed') return;
    const url = 'history?conversation_id=' + encodeURIComponent(saved.conv);
    const res = await fetch(url, { headers: { Accept: 'application/json' } }).catch(() => null);
    if (!res) return setStatus(t('chat.earlier_failed'));
    if (res.status === 404) { saved = {}; persist(); return; } // unknown conversation: start fresh
    if (!res.ok) {
      const err = await readJson(res);
      if (res.status === 401) closeLink(said(err, 'chat.closed'));
      else setStatus(said(err, 'chat.earlier_error'));
      return;
    }
    const history = await readJson(res);
    for (const m of history.messages || []) putMessage(m);
    follow(saved.conv, history.last_event_id);
    if (history.running_turn_id && state !== 'streaming' && state !== 'sending' && refusals < MAX_REFUSALS) {
      resume(history.running_turn_id);
    }
  }

  function addStreamingBubble() {
    const el = addElement('msg assistant streaming', '');
    setTyping(el, true);
    return el;
  }

  // Continue a reply after a reload: pick up where the stored stream stopped, or replay the turn.
  function resume(turnId) {
    const bubble = addStreamingBubble();
    let query = '';
    if (saved.turn === turnId && saved.eid) {
      if (saved.text) { setTyping(bubble, false); show(bubble, saved.text); }
      query = '?last_event_id=' + encodeURIComponent(saved.eid);
      lastEventId = saved.eid;
    } else {
      saved.turn = turnId; saved.eid = 0; saved.text = '';
      lastEventId = 0;
    }
    openStream(turnId, bubble, query);
    scrollDown();
  }

  // Applies one frame of the page's own turn (from the stream or a poll), each id once.
  function turnFrame(bubble, ev) {
    const id = parseInt(ev.lastEventId, 10) || 0;
    if (id && id <= lastEventId) return;
    lastEventId = Math.max(lastEventId, id);
    let d;
    try { d = JSON.parse(ev.data); } catch { return; }
    if (ev.type === 'delta') {
      if (bubble.dataset.id) return;
      const follow = nearBottom();
      setTyping(bubble, false);
      saved.eid = lastEventId; saved.text = (saved.text || '') + (d.text || '');
      // The whole text so far is rendered again: Markdown only makes sense once it is closed.
      show(bubble, saved.text);
      persist();
      if (follow) scrollDown();
    } else if (ev.type === 'message') {
      putMessage(d, bubble, true);
      // Finished messages come back with history, so there is no partial text left to restore.
      saved.eid = lastEventId; saved.text = '';
      persist();
    } else if (ev.type === 'done') {
      finish(bubble, d.status, S['turn.' + d.code] || d.message);
      if (Array.isArray(d.choices)) offer(d.choices);
    }
  }

  // Questions to tap: under the greeting, and after a reply that asks which one was meant.
  // Tapping one sends it; any message sent takes the offered ones away.
  function offer(questions) {
    const shown = questions.filter((q) => typeof q === 'string' && q.trim()).slice(0, 3);
    if (!shown.length) return;
    const follow = nearBottom();
    const group = document.createElement('div');
    group.className = 'choices';
    group.setAttribute('role', 'group');
    group.setAttribute('aria-label', t('chat.suggestions'));
    for (const q of shown) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'choice';
      b.dir = 'auto';
      b.textContent = q;
      b.addEventListener('click', () => { if (state === 'idle') send(q); });
      group.appendChild(b);
    }
    list.appendChild(group);
    if (follow) scrollDown();
  }
  const withdrawChoices = () => list.querySelectorAll('.choices').forEach((g) => g.remove());

  function openStream(turnId, bubble, query) {
    setState('streaming');
    streamingTurn = turnId;
    if (polling) return pollTurn(turnId, bubble);
    const es = new EventSource(encodeURIComponent(turnId) + '/sse' + query);
    source = { es, turnId, bubble, close: () => es.close() };
    const mine = source;
    const held = setTimeout(() => { if (source === mine && es.readyState === EventSource.CONNECTING) startPolling(); }, OPEN_WITHIN);

    es.onopen = () => { refusals = 0; setStatus(''); clearTimeout(held); };
    for (const type of ['delta', 'message', 'done']) es.addEventListener(type, (ev) => turnFrame(bubble, ev));
    es.onerror = () => {
      if (source !== mine) return;
      if (es.readyState === EventSource.CLOSED) {
        clearTimeout(held);
        // The server refused the stream (busy, or the link was revoked): history tells us why and
        // what arrived. Retry after a growing pause so a busy server is not hammered, then give up.
        closeSource();
        if (refusals < MAX_REFUSALS) {
          const wait = 1000 * 2 ** refusals++;
          setStatus(t('status.retrying'));
          bubble.remove();
          setState('reconnecting');
          setTimeout(async () => {
            await loadHistory();
            if (state === 'reconnecting') { setState('idle'); setStatus(''); }
          }, wait);
          return;
        }
        finish(bubble, 'error', t('reply.interrupted'));
        loadHistory();
      } else {
        setStatus(t('status.reconnecting'));
      }
    };
  }

  // The page's turn by long-poll, from the last frame applied.
  async function pollTurn(turnId, bubble) {
    const me = { turnId, bubble, close() { this.closed = true; } };
    source = me;
    let failures = 0;
    while (!me.closed) {
      const got = await pollOnce(encodeURIComponent(turnId) + '/frames', lastEventId);
      if (me.closed) return;
      if (got === null) return finish(bubble, 'ok');
      if (Array.isArray(got)) {
        failures = 0;
        setStatus('');
        for (const f of got) { turnFrame(bubble, f); if (me.closed) return; }
        continue;
      }
      // Revoked or expired: the link is over. Not found (the turn is gone): history says what is left.
      if (got && got.status === 401) return closeLink(said(await readJson(got), 'chat.closed'));
      if (got && got.status === 404 || ++failures > MAX_REFUSALS) {
        finish(bubble, 'error', t('reply.interrupted'));
        return loadHistory();
      }
      setStatus(t('status.reconnecting'));
      await sleep(1000 * 2 ** failures);
    }
  }

  function finish(bubble, status, message) {
    closeSource();
    bubble.classList.remove('streaming');
    setTyping(bubble, false);
    if (status === 'error') {
      const text = message || t('reply.failed');
      // An empty bubble carries the error itself; after a partial reply the status line does.
      if (bubble.textContent) setStatus(text);
      else { bubble.textContent = text; bubble.classList.add('error'); }
    } else {
      if (!bubble.textContent && !bubble.dataset.id) bubble.remove();
      setStatus('');
    }
    // Said once: while the team has the conversation, every message ends this way.
    if (status === 'handoff' && !list.querySelector('.note.handoff')) {
      addElement('note handoff', t('chat.handoff'));
    }
    saved.turn = null; saved.eid = 0; saved.text = '';
    persist();
    if (state !== 'closed') setState('idle');
  }

  // Sends the composer's text, or `tapped` (an offered question), keeping the composer's.
  async function send(tapped) {
    const typed = typeof tapped !== 'string';
    const content = typed ? input.value.trim() : tapped.trim();
    if (state !== 'idle' || !content || charCount(content) > MAX_CHARS) return;
    setState('sending');
    setStatus('');
    withdrawChoices();
    const mine = addMessage('user', content);
    if (typed) input.value = '';
    updateComposer();
    input.focus();

    const isNew = !saved.conv;
    const body = isNew ? { content } : { content, conversation_id: saved.conv };
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
    let res = null, data = {};
    try {
      res = await fetch('./', { method: 'POST', headers, body: JSON.stringify(body) });
      data = await readJson(res);
    } catch { /* network failure, handled below */ }

    if (!res || !res.ok) {
      // Give the text back so nothing the visitor typed is lost.
      mine.remove();
      if (typed && !input.value) input.value = content;
      if (res && (res.status === 401 || res.status === 404)) return closeLink(said(data, 'chat.closed'));
      setState('idle');
      const wait = res?.status === 429 ? parseInt(res.headers.get('Retry-After'), 10) : 0;
      setStatus((!res ? t('send.offline') : said(data, 'send.failed')) + (wait > 0 ? ' ' + t('send.wait', { seconds: wait }) : ''));
      return;
    }

    if (data.message_id) mine.dataset.id = data.message_id;
    saved = { conv: data.conversation_id, turn: data.turn_id, eid: 0, text: '' };
    persist();
    lastEventId = 0;
    openStream(data.turn_id, addStreamingBubble(), '');
    // A new conversation: everything in it so far is this turn, which the feed skips. An older
    // one is followed from where its history ended (loadHistory), never replayed from the start.
    if (isNew) follow(data.conversation_id, 0);
  }

  form.addEventListener('submit', (ev) => { ev.preventDefault(); send(); });
  input.addEventListener('input', updateComposer);
  input.addEventListener('keydown', (ev) => {
    // isComposing: Enter also confirms IME input (Japanese, Chinese…) and must not send then.
    if (ev.key !== 'Enter' || ev.shiftKey || ev.isComposing) return;
    ev.preventDefault();
    send();
  });

  setTransport();
  if (config.greeting) addMessage('assistant', config.greeting).classList.add('greeting');
  // A returning visitor has a conversation to read; suggestions are for a first question.
  if (!saved.conv && Array.isArray(config.suggestions)) offer(config.suggestions);
  loadHistory().finally(() => {
    if (state === 'loading') setState('idle');
    scrollDown();
  });
})();
