// The reply renderer the chat page and the widget share: a small safe subset of Markdown (paragraphs,
// **bold**, *italic*, lists, [links](https://...)) plus autolinked web and e-mail addresses and phone
// numbers, built as DOM nodes from text; nothing a reply says is ever parsed as HTML.
function renderRich(text) {
  const doc = document, frag = doc.createDocumentFragment();
  const node = (tag, kids) => { const e = doc.createElement(tag); e.append(...kids); return e; };
  const txt = (s) => doc.createTextNode(s);
  // Only these schemes become links, checked after the URL parser has normalized the address.
  const href = (raw) => {
    try { const u = new URL(raw); return /^(https?|mailto|tel):$/.test(u.protocol) && !/[\s\u0000-\u001f]/.test(raw) ? u.href : null; } catch { return null; }
  };
  const link = (to, kids) => {
    const a = node('a', kids);
    a.setAttribute('href', to);
    a.setAttribute('rel', 'noopener noreferrer nofollow');
    a.setAttribute('target', '_blank');
    return a;
  };
  const word = (c) => !!c && /[\p{L}\p{N}_]/u.test(c);

  // One regex pass over a line finds links and addresses; every class is bounded or stops at a
  // space, so no input makes it backtrack for long.
  const FIND = /\[([^[\]\n]{1,300})\]\(([^()\s]{1,2000})\)|\b(?:https?:\/\/|www\.)[^\s<>"'`]+|[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}|\+?\(?\d[\d ().\/-]{5,22}\d/gu;

  // A phone number: 7 to 15 digits, written as one (a leading + or 0, or separators), not a date.
  function phone(m, before, after) {
    const digits = m.replace(/\D/g, '');
    if (digits.length < 7 || digits.length > 15 || word(before) || word(after)) return null;
    if (/^\d{4}-\d\d-\d\d$|^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$/.test(m)) return null;
    if (!/^[+(0]/.test(m) && !/\d[ ./-]\d/.test(m)) return null;
    return 'tel:' + (m[0] === '+' ? '+' : '') + digits;
  }

  // A line as tokens: nodes (links), text, and runs of * or _ that may open or close emphasis.
  function tokens(line) {
    const out = [];
    const plain = (s) => {
      let last = 0;
      for (const m of s.matchAll(/\*{1,3}|_{1,3}/g)) {
        if (m.index > last) out.push(txt(s.slice(last, m.index)));
        const before = s[m.index - 1], after = s[m.index + m[0].length];
        const r = m[0];
        // Emphasis hugs its text; `_` only at word edges, so snake_case_names stay as written.
        let open = !!after && !/\s/.test(after), close = !!before && !/\s/.test(before);
        if (r[0] === '_') { open = open && !word(before); close = close && !word(after); }
        out.push(r.length < 3 && (open || close) ? { r, open, close } : txt(r));
        last = m.index + r.length;
      }
      if (last < s.length) out.push(txt(s.slice(last)));
    };
    let last = 0;
    for (const m of line.matchAll(FIND)) {
      let s = m[0], to = null, kids;
      if (m[1] !== undefined) {
        to = href(m[2]);
        kids = to ? emphasis(tokensOf(m[1])) : null;
      } else if (/^(https?:|www\.)/i.test(s)) {
        // Sentence punctuation after an address is not part of it; a ")" only when unbalanced.
        s = s.replace(/[.,;:!?'"]+$/, '');
        while (s.endsWith(')') && (s.match(/\(/g) || []).length < (s.match(/\)/g) || []).length) s = s.slice(0, -1);
        to = href(/^www\./i.test(s) ? 'https://' + s : s);
      } else if (s.includes('@')) {
        to = word(line[m.index - 1]) ? null : href('mailto:' + s);
      } else {
        to = phone(s, line[m.index - 1], line[m.index + s.length]);
      }
      if (!to) continue;
      if (m.index > last) plain(line.slice(last, m.index));
      out.push(link(to, kids || [txt(s)]));
      last = m.index + s.length;
    }
    if (last < line.length) plain(line.slice(last));
    return out;
  }
  // Link text is formatted but never holds another link.
  const tokensOf = (s) => { const out = []; for (const t of tokens(s)) out.push(t.nodeName === 'A' ? txt(t.textContent) : t); return out; };

  // Pairs emphasis runs with a stack, innermost first; whatever stays unpaired is literal text.
  function emphasis(list) {
    const out = [], stack = [];
    for (const t of list) {
      if (!t.r) { out.push(t); continue; }
      let k = -1;
      if (t.close) for (let i = stack.length - 1; i >= Math.max(0, stack.length - 16); i--) if (out[stack[i]].r === t.r) { k = i; break; }
      if (k >= 0) {
        const at = stack[k], kids = out.splice(at + 1).map((x) => (x.r ? txt(x.r) : x));
        out[at] = node(t.r.length === 2 ? 'strong' : 'em', kids);
        stack.length = k;
      } else if (t.open) { stack.push(out.length); out.push(t); }
      else out.push(txt(t.r));
    }
    return out.map((x) => (x.r ? txt(x.r) : x));
  }
  const inline = (line) => emphasis(tokens(line));

  const src = String(text ?? '');
  // Past this, a reply is shown as plain paragraphs: formatting is for answers, not for floods.
  const tooLong = src.length > 20000;
  const lines = src.split(/\r?\n/);
  let block = null, kind = '';
  for (const line of lines) {
    const item = tooLong ? null : /^ {0,3}(?:([-*+])|(\d{1,9})[.)])\s+(.*)$/.exec(line);
    if (!line.trim()) { block = null; kind = ''; continue; }
    if (item) {
      const want = item[1] ? 'ul' : 'ol';
      if (kind !== want) {
        block = frag.appendChild(node(want, []));
        kind = want;
        if (want === 'ol' && item[2] !== '1') block.setAttribute('start', String(parseInt(item[2], 10)));
      }
      block.append(node('li', inline(item[3])));
      continue;
    }
    if (kind !== 'p') { block = frag.appendChild(node('p', [])); kind = 'p'; }
    else block.append(node('br', []));
    block.append(...(tooLong ? [txt(line)] : inline(line)));
  }
  return frag;
}
