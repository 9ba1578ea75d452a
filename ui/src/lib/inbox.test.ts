import { describe, expect, it } from 'vitest';

import type { ConversationSummary } from '../bindings/ConversationSummary';
import type { TranscriptMessage } from '../bindings/TranscriptMessage';
import type { Role } from '../bindings/Role';
import {
  answeringReply,
  ACTION_TOASTS,
  appendMessage,
  appendPage,
  channelLabel,
  conversationFileName,
  conversationTitle,
  defaultExportRange,
  exportRange,
  inboxFields,
  inboxFilter,
  MAX_PAGE,
  PAGE_SIZE,
  parseDay,
  previewLine,
  rangeFileName,
  reloadLimit,
  replaceSummary,
  REPLY_MAX,
  replyProblem,
  roleLabel,
  sameFilter,
  sendsReply,
  STATE_FILTERS,
  stateLabel,
  typedChange,
  withExportExtension,
} from './inbox';

function conv(id: string, over: Partial<ConversationSummary> = {}): ConversationSummary {
  return {
    id,
    agent: 'acme',
    agent_name: 'Acme Bakery',
    jid: 'web:acme/flyer',
    channel: 'link',
    link_id: 3,
    link_label: null,
    state: 'open',
    taken_over: false,
    blocked: false,
    created_at: '2025-03-12T09:00:00Z',
    updated_at: '2025-03-12T10:00:00Z',
    messages: 2,
    last_role: 'assistant',
    last_message: 'We open at 8.',
    ...over,
  };
}

function msg(id: string, role: Role = 'user', content = 'Hi'): TranscriptMessage {
  return { id, role, content, created_at: '2025-03-12T10:00:00Z' };
}

describe('the filters', () => {
  it('sends blank fields and "All" as no filter', () => {
    expect(inboxFilter(inboxFields())).toEqual({ agent: null, jid: null, state: null, search: null, limit: null, offset: null });
    expect(inboxFilter({ agent: ' ', jid: '  ', state: 'all', search: '\t' })).toEqual({
      agent: null,
      jid: null,
      state: null,
      search: null,
      limit: null,
      offset: null,
    });
  });

  it('trims what is typed and passes the page', () => {
    expect(inboxFilter({ agent: 'acme', jid: ' web:acme/flyer ', state: 'handoff', search: ' refund ' }, 100, 200)).toEqual({
      agent: 'acme',
      jid: 'web:acme/flyer',
      state: 'handoff',
      search: 'refund',
      limit: 100,
      offset: 200,
    });
  });

  it('starts at a given state', () => {
    expect(inboxFields('handoff')).toEqual({ agent: '', jid: '', state: 'handoff', search: '' });
    expect(inboxFilter(inboxFields('handoff')).state).toBe('handoff');
  });

  it('offers the four states, "Waiting for you" for handoffs', () => {
    expect(STATE_FILTERS.map((s) => s.value)).toEqual(['all', 'open', 'handoff', 'resolved']);
    expect(STATE_FILTERS.map((s) => s.label)).toEqual(['All', 'Open', 'Waiting for you (handoff)', 'Resolved']);
  });

  it('compares filters without the paging, and knows typing from choosing', () => {
    const a = inboxFilter({ agent: 'acme', jid: '', state: 'open', search: 'x' }, 100, 0);
    expect(sameFilter(a, { ...a, limit: 500, offset: 100 })).toBe(true);
    expect(sameFilter(a, { ...a, state: null })).toBe(false);
    expect(sameFilter(a, { ...a, search: 'y' })).toBe(false);
    expect(typedChange(a, { ...a, search: 'xy' })).toBe(true);
    expect(typedChange(a, { ...a, jid: 'web:acme' })).toBe(true);
    expect(typedChange(a, { ...a, agent: 'other', state: 'resolved' })).toBe(false);
  });

  it('reloads as many rows as are shown, within the server page', () => {
    expect(reloadLimit(0)).toBe(PAGE_SIZE);
    expect(reloadLimit(37)).toBe(PAGE_SIZE);
    expect(reloadLimit(250)).toBe(250);
    expect(reloadLimit(900)).toBe(MAX_PAGE);
  });
});

describe('words', () => {
  it('names states, channels and roles', () => {
    expect(stateLabel('open')).toBe('Open');
    expect(stateLabel('handoff')).toBe('Waiting for you');
    expect(stateLabel('resolved')).toBe('Resolved');
    expect(stateLabel('archived')).toBe('archived');
    expect(channelLabel('link')).toBe('Link');
    expect(channelLabel('widget')).toBe('Widget');
    expect(channelLabel('hook')).toBe('Hook');
    expect(roleLabel('user', 'Acme')).toBe('Visitor');
    expect(roleLabel('owner', 'Acme')).toBe('You');
    expect(roleLabel('assistant', 'Acme Bakery')).toBe('Acme Bakery');
    expect(roleLabel('assistant', '  ')).toBe('Agent');
    expect(roleLabel('system', 'Acme')).toBe('system');
  });

  it('titles a conversation by its link label, else its JID', () => {
    expect(conversationTitle(conv('a'))).toBe('web:acme/flyer');
    expect(conversationTitle(conv('a', { link_label: 'Spring flyer' }))).toBe('Spring flyer');
    expect(conversationTitle(conv('a', { link_label: '  ' }))).toBe('web:acme/flyer');
  });

  it('previews the last message on one line, saying who wrote it unless the visitor did', () => {
    expect(previewLine(conv('a'))).toEqual({ who: 'Acme Bakery', text: 'We open at 8.' });
    expect(previewLine(conv('a', { last_role: 'owner', last_message: 'On my way' }))).toEqual({ who: 'You', text: 'On my way' });
    expect(previewLine(conv('a', { last_role: 'user', last_message: 'Hello\n\n  there' }))).toEqual({ who: null, text: 'Hello there' });
    expect(previewLine(conv('a', { last_role: null, last_message: null }))).toEqual({ who: null, text: 'No messages yet' });
  });

  it('has a toast for every action', () => {
    expect(Object.keys(ACTION_TOASTS).sort()).toEqual(['block', 'hand-back', 'reply', 'resolve', 'take-over', 'unblock']);
    for (const t of Object.values(ACTION_TOASTS)) expect(t.length).toBeGreaterThan(0);
  });
});

describe('live updates', () => {
  it('appends a page without repeating rows', () => {
    const list = [conv('a'), conv('b')];
    expect(appendPage(list, [conv('b'), conv('c')]).map((c) => c.id)).toEqual(['a', 'b', 'c']);
    expect(list.map((c) => c.id)).toEqual(['a', 'b']);
  });

  it('replaces a listed conversation in place and never adds one', () => {
    const list = [conv('a'), conv('b')];
    const next = replaceSummary(list, conv('b', { state: 'resolved' }));
    expect(next.map((c) => [c.id, c.state])).toEqual([
      ['a', 'open'],
      ['b', 'resolved'],
    ]);
    expect(replaceSummary(list, conv('z')).map((c) => c.id)).toEqual(['a', 'b']);
  });

  it('appends a sent message once, even when a reload brought it first', () => {
    const ms = [msg('1'), msg('2', 'assistant')];
    expect(appendMessage(ms, msg('3', 'owner')).map((m) => m.id)).toEqual(['1', '2', '3']);
    expect(appendMessage([...ms, msg('3', 'owner')], msg('3', 'owner')).map((m) => m.id)).toEqual(['1', '2', '3']);
  });
});

describe('adding an answer to the knowledge', () => {
  it('is offered once the owner has replied to something a visitor asked', () => {
    expect(answeringReply([])).toBeNull();
    expect(answeringReply([msg('1', 'user'), msg('2', 'assistant')])).toBeNull();
    expect(answeringReply([msg('1', 'owner'), msg('2', 'user')])).toBeNull();
    expect(answeringReply([msg('1', 'user'), msg('2', 'assistant'), msg('3', 'owner')])).toBe('3');
    expect(answeringReply([msg('1', 'user'), msg('2', 'owner'), msg('3', 'user'), msg('4', 'owner')])).toBe('4');
    expect(answeringReply([msg('1', 'user'), msg('2', 'owner'), msg('3', 'user')])).toBe('2');
  });
});

describe('the reply box', () => {
  it('wants some text, within the limit the server counts in characters', () => {
    expect(replyProblem('')).toBe('Write a reply first.');
    expect(replyProblem('  \n ')).toBe('Write a reply first.');
    expect(replyProblem('Yes, until 6.')).toBeNull();
    expect(replyProblem('x'.repeat(REPLY_MAX))).toBeNull();
    expect(replyProblem('x'.repeat(REPLY_MAX + 1))).toBe(`Your reply is ${REPLY_MAX + 1} characters long; the limit is ${REPLY_MAX}.`);
    // Emoji are one character each, not two UTF-16 units.
    expect(replyProblem('😀'.repeat(REPLY_MAX))).toBeNull();
  });

  it('sends on Enter, and Shift+Enter makes a new line', () => {
    const key = { key: 'Enter', shiftKey: false, ctrlKey: false, altKey: false, metaKey: false, isComposing: false };
    expect(sendsReply(key)).toBe(true);
    expect(sendsReply({ ...key, shiftKey: true })).toBe(false);
    expect(sendsReply({ ...key, ctrlKey: true })).toBe(false);
    expect(sendsReply({ ...key, isComposing: true })).toBe(false);
    expect(sendsReply({ ...key, key: 'a' })).toBe(false);
  });
});

describe('exports', () => {
  it('adds .csv unless the name ends in .csv or .json', () => {
    expect(withExportExtension('/home/me/march.csv')).toBe('/home/me/march.csv');
    expect(withExportExtension('/home/me/march.JSON')).toBe('/home/me/march.JSON');
    expect(withExportExtension('C:\\Users\\me\\march.Csv')).toBe('C:\\Users\\me\\march.Csv');
    expect(withExportExtension('/home/me/march')).toBe('/home/me/march.csv');
    expect(withExportExtension('/home/me/march.')).toBe('/home/me/march.csv');
    expect(withExportExtension('/home/me/march.txt')).toBe('/home/me/march.txt.csv');
    expect(withExportExtension('/home/me/.json')).toBe('/home/me/.json.csv');
    expect(withExportExtension('/home/me/data.json/march')).toBe('/home/me/data.json/march.csv');
  });

  it('suggests file names', () => {
    const c = conv('a', { jid: 'web:Acme/Spring flyer', created_at: new Date(2025, 2, 12, 9).toISOString() });
    expect(conversationFileName(c)).toBe('chatlink-web-acme-spring-flyer-2025-03-12.csv');
    expect(conversationFileName(conv('a', { jid: '::', created_at: 'nope' }))).toBe('chatlink-conversation.csv');
    expect(rangeFileName('2025-03-01', '2025-03-30')).toBe('chatlink-conversations-2025-03-01-to-2025-03-30.csv');
    expect(rangeFileName('2025-03-01', '2025-03-01')).toBe('chatlink-conversations-2025-03-01.csv');
  });

  it('defaults to the last 30 days, today included', () => {
    expect(defaultExportRange(new Date(2025, 2, 30, 15, 0))).toEqual({ from: '2025-03-01', to: '2025-03-30' });
    expect(defaultExportRange(new Date(2025, 0, 10, 0, 5))).toEqual({ from: '2024-12-12', to: '2025-01-10' });
    expect(defaultExportRange(new Date(2024, 2, 1), 1)).toEqual({ from: '2024-03-01', to: '2024-03-01' });
  });

  it('reads only real days', () => {
    expect(parseDay('2024-02-29')).toEqual({ y: 2024, m: 2, d: 29 });
    expect(parseDay(' 2025-03-01 ')).toEqual({ y: 2025, m: 3, d: 1 });
    for (const t of ['2025-02-29', '2025-13-01', '2025-00-10', '2025-3-1', '01/03/2025', '']) expect(parseDay(t)).toBeNull();
  });

  it('runs from local midnight of the first day to local midnight after the last', () => {
    expect(exportRange('2025-03-01', '2025-03-30')).toEqual({
      kind: 'between',
      from: new Date(2025, 2, 1).getTime(),
      to: new Date(2025, 2, 31).getTime(),
    });
    // One day, and across a month's end.
    expect(exportRange('2025-02-28', '2025-02-28')).toEqual({
      kind: 'between',
      from: new Date(2025, 1, 28).getTime(),
      to: new Date(2025, 2, 1).getTime(),
    });
    expect(exportRange('2024-12-31', '2024-12-31')).toMatchObject({ to: new Date(2025, 0, 1).getTime() });
  });

  it('survives daylight-saving days (run with TZ=Europe/Berlin to exercise it)', () => {
    const r = exportRange('2025-03-30', '2025-03-30');
    expect(r).toEqual({ kind: 'between', from: new Date(2025, 2, 30).getTime(), to: new Date(2025, 2, 31).getTime() });
    const end = new Date((r as { to: number }).to);
    expect([end.getDate(), end.getHours(), end.getMinutes()]).toEqual([31, 0, 0]);
  });

  it('explains a range it cannot use', () => {
    expect(exportRange('', '2025-03-01')).toEqual({ problem: 'Choose both dates.' });
    expect(exportRange('2025-03-01', ' ')).toEqual({ problem: 'Choose both dates.' });
    expect(exportRange('March', '2025-03-01')).toEqual({ problem: 'Use dates like 2025-03-01.' });
    expect(exportRange('2025-03-02', '2025-03-01')).toEqual({ problem: 'The first date is after the last one.' });
  });
});
