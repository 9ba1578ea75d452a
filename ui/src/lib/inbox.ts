// Pure helpers behind the Inbox: the filters as the form holds them and as `list_conversations`
// takes them, the words for states, channels and roles, the reply check, merging live updates
// into what is shown, and the exports' date range, file names and extension rule.

import type { ConversationSummary } from '../bindings/ConversationSummary';
import type { ExportForm } from '../bindings/ExportForm';
import type { InboxFilterForm } from '../bindings/InboxFilterForm';
import type { TranscriptMessage } from '../bindings/TranscriptMessage';
import { fileSlug, isoDay, optionalText, withFileExtension } from './format';

export type ConversationState = 'open' | 'handoff' | 'resolved';
export type StateFilter = 'all' | ConversationState;

/** The state select's choices, in order. */
export const STATE_FILTERS: { value: StateFilter; label: string }[] = [
  { value: 'all', label: 'All' },
  { value: 'open', label: 'Open' },
  { value: 'handoff', label: 'Waiting for you (handoff)' },
  { value: 'resolved', label: 'Resolved' },
];

const STATE_LABELS: Record<string, string> = {
  open: 'Open',
  handoff: 'Waiting for you',
  resolved: 'Resolved',
};

/** A state badge's words; an unknown state shows as the server sent it. */
export function stateLabel(state: string): string {
  return STATE_LABELS[state] ?? state;
}

const CHANNEL_LABELS: Record<ConversationSummary['channel'], string> = {
  link: 'Link',
  widget: 'Widget',
  hook: 'Hook',
};

export function channelLabel(channel: ConversationSummary['channel']): string {
  return CHANNEL_LABELS[channel] ?? channel;
}

/** Who wrote a message, for the transcript: the visitor, the agent (by its name) or the owner. */
export function roleLabel(role: string, agentName: string): string {
  switch (role) {
    case 'user':
      return 'Visitor';
    case 'owner':
      return 'You';
    case 'assistant':
      return agentName.trim() || 'Agent';
    default:
      return role;
  }
}

/** A conversation's name in lists and headings: the link's label, else its JID. */
export function conversationTitle(c: Pick<ConversationSummary, 'link_label' | 'jid'>): string {
  return c.link_label?.trim() || c.jid;
}

/** The list row's last line: who wrote the latest message (not for the visitor, whose words
 * are the default) and the text, as plain text. */
export function previewLine(c: Pick<ConversationSummary, 'last_role' | 'last_message' | 'agent_name'>): {
  who: string | null;
  text: string;
} {
  const text = (c.last_message ?? '').replace(/\s+/g, ' ').trim();
  if (text === '') return { who: null, text: 'No messages yet' };
  const who = c.last_role && c.last_role !== 'user' ? roleLabel(c.last_role, c.agent_name) : null;
  return { who, text };
}

/** The filter form as typed. `jid` is a whole JID: the server matches it exactly. */
export type InboxFields = { agent: string; jid: string; state: StateFilter; search: string };

export function inboxFields(state: StateFilter = 'all'): InboxFields {
  return { agent: '', jid: '', state, search: '' };
}

/** The server's page: 100 at first, at most 500 (`MAX_INBOX_PAGE`). */
export const PAGE_SIZE = 100;
export const MAX_PAGE = 500;

/** How long the text filters wait after the last key before they ask the server. */
export const SEARCH_DEBOUNCE_MS = 300;

/** What `list_conversations` takes: blank fields and "All" become null (no filter). */
export function inboxFilter(fields: InboxFields, limit: number | null = null, offset: number | null = null): InboxFilterForm {
  return {
    agent: optionalText(fields.agent),
    jid: optionalText(fields.jid),
    state: fields.state === 'all' ? null : fields.state,
    search: optionalText(fields.search),
    limit,
    offset,
  };
}

/** Whether two filters select the same conversations (paging aside). */
export function sameFilter(a: InboxFilterForm, b: InboxFilterForm): boolean {
  return a.agent === b.agent && a.jid === b.jid && a.state === b.state && a.search === b.search;
}

/** Whether going from `a` to `b` changed a typed field, which waits for the owner to pause
 * (the selects apply at once). */
export function typedChange(a: InboxFilterForm, b: InboxFilterForm): boolean {
  return a.jid !== b.jid || a.search !== b.search;
}

/** The page size for reloading a list that shows `shown` rows: the same rows again, so a live
 * update does not take away the ones "Show more" added. */
export function reloadLimit(shown: number): number {
  return Math.min(MAX_PAGE, Math.max(PAGE_SIZE, shown));
}

/** Appends a page to the list, skipping conversations already shown (activity moves rows
 * between pages while the owner reads). */
export function appendPage(list: readonly ConversationSummary[], page: readonly ConversationSummary[]): ConversationSummary[] {
  const seen = new Set(list.map((c) => c.id));
  return [...list, ...page.filter((c) => !seen.has(c.id))];
}

/** The list with `c` in place of its old row; a conversation not listed is not added, since it
 * may not match the filters. */
export function replaceSummary(list: readonly ConversationSummary[], c: ConversationSummary): ConversationSummary[] {
  return list.some((x) => x.id === c.id) ? list.map((x) => (x.id === c.id ? c : x)) : [...list];
}

/** The transcript with `m` at its end, unless a reload already brought it. */
export function appendMessage(messages: readonly TranscriptMessage[], m: TranscriptMessage): TranscriptMessage[] {
  return messages.some((x) => x.id === m.id) ? [...messages] : [...messages, m];
}

/** The owner's last reply when it answers something a visitor asked, so the question can be
 * added to the agent's answers (the core picks it: the visitor's last message before that
 * reply); null when there is none. */
export function answeringReply(messages: readonly Pick<TranscriptMessage, 'id' | 'role'>[]): string | null {
  let last = messages.length - 1;
  while (last >= 0 && messages[last].role !== 'owner') last--;
  return last > 0 && messages.slice(0, last).some((m) => m.role === 'user') ? messages[last].id : null;
}

/** The core's limit on a message (`message_chars`), counted like the server: characters, not
 * UTF-16 units, whitespace included. */
export const REPLY_MAX = 4000;

/** The reply box's check: a sentence to show, or null. */
export function replyProblem(text: string): string | null {
  if (text.trim() === '') return 'Write a reply first.';
  const n = [...text].length;
  if (n > REPLY_MAX) return `Your reply is ${n} characters long; the limit is ${REPLY_MAX}.`;
  return null;
}

/** Enter sends, Shift+Enter (or any other modifier) makes a new line, and a key that finishes
 * an input method's composition does nothing. */
export function sendsReply(e: Pick<KeyboardEvent, 'key' | 'shiftKey' | 'ctrlKey' | 'altKey' | 'metaKey' | 'isComposing'>): boolean {
  return e.key === 'Enter' && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey && !e.isComposing;
}

/** What the owner is told after each action on a conversation. */
export const ACTION_TOASTS = {
  'take-over': "You're answering now; the agent stays quiet here",
  'hand-back': 'Handed back to the agent',
  resolve: 'Marked resolved',
  block: 'Blocked: this visitor\'s messages are refused',
  unblock: 'Unblocked',
  reply: 'Reply sent',
} as const;

export type ConversationAction = keyof typeof ACTION_TOASTS;

// ---- Exports ----

export const EXPORT_EXTENSIONS = ['csv', 'json'] as const;

/** The export path with a format the Rust side accepts: a file name that does not end in
 * `.csv` or `.json` (any case) gets `.csv`, the one a spreadsheet opens. */
export function withExportExtension(path: string): string {
  return withFileExtension(path, EXPORT_EXTENSIONS, 'csv');
}

/** The suggested name for one conversation: `chatlink-web-acme-flyer-2025-03-12.csv`. */
export function conversationFileName(c: Pick<ConversationSummary, 'jid' | 'created_at'>): string {
  const slug = fileSlug(c.jid);
  const d = new Date(c.created_at);
  const day = Number.isNaN(d.getTime()) ? '' : `-${isoDay(d)}`;
  return `chatlink-${slug || 'conversation'}${day}.csv`;
}

/** The suggested name for a range: `chatlink-conversations-2025-03-01-to-2025-03-30.csv`. */
export function rangeFileName(from: string, to: string): string {
  return from === to ? `chatlink-conversations-${from}.csv` : `chatlink-conversations-${from}-to-${to}.csv`;
}

/** The range fields' first values: the last 30 days, today included. */
export function defaultExportRange(now: Date = new Date(), days = 30): { from: string; to: string } {
  const from = new Date(now.getFullYear(), now.getMonth(), now.getDate() - (days - 1));
  return { from: isoDay(from), to: isoDay(now) };
}

/** A date field's `YYYY-MM-DD` as a local date, or null when it is not a real day. */
export function parseDay(text: string): { y: number; m: number; d: number } | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text.trim());
  if (!match) return null;
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(y, m - 1, d);
  if (date.getFullYear() !== y || date.getMonth() !== m - 1 || date.getDate() !== d) return null;
  return { y, m, d };
}

/** The range as `export_conversations` takes it: from the owner's local midnight of `from` to
 * the local midnight after `to` (so `to` is included), in ms. Or the problem to show. */
export function exportRange(from: string, to: string): Extract<ExportForm, { kind: 'between' }> | { problem: string } {
  if (from.trim() === '' || to.trim() === '') return { problem: 'Choose both dates.' };
  const a = parseDay(from);
  const b = parseDay(to);
  if (!a || !b) return { problem: 'Use dates like 2025-03-01.' };
  const start = new Date(a.y, a.m - 1, a.d).getTime();
  // The Date constructor rolls day 32 over, and midnight is midnight across a DST change.
  const end = new Date(b.y, b.m - 1, b.d + 1).getTime();
  if (end <= start) return { problem: 'The first date is after the last one.' };
  return { kind: 'between', from: start, to: end };
}
