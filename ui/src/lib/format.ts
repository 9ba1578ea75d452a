// Pure helpers behind the screens: no DOM, no Tauri, so vitest can pin them down.

import type { LinkInfo } from '../bindings/LinkInfo';

const DAY_MS = 24 * 60 * 60 * 1000;
// Fixed English names: the UI is English, and the host locale would make tests flaky.
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function parse(iso: string | null | undefined): Date | null {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

// Calendar days between the local dates of `a` and `b` (b - a). Rounded because a day
// across a DST change is 23 or 25 hours long.
function dayDiff(a: Date, b: Date): number {
  const da = new Date(a.getFullYear(), a.getMonth(), a.getDate()).getTime();
  const db = new Date(b.getFullYear(), b.getMonth(), b.getDate()).getTime();
  return Math.round((db - da) / DAY_MS);
}

function clock(d: Date): string {
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/**
 * A short local date for tables: "today 14:05", "yesterday 09:12", "3 days ago",
 * "in 3 days", "12 Mar", "12 Mar 2024". Past or future both work (expiry dates).
 */
export function shortDate(iso: string | null | undefined, now: Date = new Date(), empty = '—'): string {
  const d = parse(iso);
  if (!d) return empty;
  const days = dayDiff(d, now); // > 0: in the past
  if (days === 0) return `today ${clock(d)}`;
  if (days === 1) return `yesterday ${clock(d)}`;
  if (days === -1) return `tomorrow ${clock(d)}`;
  if (days > 1 && days < 7) return `${days} days ago`;
  if (days < -1 && days > -7) return `in ${-days} days`;
  const dm = `${d.getDate()} ${MONTHS[d.getMonth()]}`;
  return d.getFullYear() === now.getFullYear() ? dm : `${dm} ${d.getFullYear()}`;
}

/**
 * How long ago, for lists that change while they are watched: "just now", "5 min ago",
 * "3 h ago" (within a day), then "yesterday", "3 days ago", "12 Mar", "12 Mar 2024" by calendar
 * day. A time slightly in the future (clock skew between the server and this computer) is
 * "just now".
 */
export function relativeTime(iso: string | null | undefined, now: Date = new Date(), empty = '—'): string {
  const d = parse(iso);
  if (!d) return empty;
  const minutes = Math.floor((now.getTime() - d.getTime()) / 60_000);
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} min ago`;
  if (minutes < 24 * 60) return `${Math.floor(minutes / 60)} h ago`;
  const days = dayDiff(d, now);
  if (days <= 1) return 'yesterday';
  if (days < 7) return `${days} days ago`;
  const dm = `${d.getDate()} ${MONTHS[d.getMonth()]}`;
  return d.getFullYear() === now.getFullYear() ? dm : `${dm} ${d.getFullYear()}`;
}

/** A message's time in a transcript: "14:05" today, "12 Mar 14:05" before, with the year
 * when it differs. */
export function messageTime(iso: string | null | undefined, now: Date = new Date()): string {
  const d = parse(iso);
  if (!d) return '';
  if (dayDiff(d, now) === 0) return clock(d);
  const dm = `${d.getDate()} ${MONTHS[d.getMonth()]}`;
  return d.getFullYear() === now.getFullYear() ? `${dm} ${clock(d)}` : `${dm} ${d.getFullYear()} ${clock(d)}`;
}

/** A local calendar day as `YYYY-MM-DD` (what `<input type="date">` holds). */
export function isoDay(d: Date): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
}

/** `YYYY-MM-DD` as a short label: "12 Mar", or "12 Mar 2024" when `withYear`. Null for
 * anything else. */
export function dayLabel(day: string, withYear = false): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return null;
  const month = Number(m[2]);
  if (month < 1 || month > 12) return null;
  const dm = `${Number(m[3])} ${MONTHS[month - 1]}`;
  return withYear ? `${dm} ${m[1]}` : dm;
}

/** The exact local time, for tooltips next to a short date. */
export function fullDate(iso: string | null | undefined): string {
  const d = parse(iso);
  if (!d) return '';
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${clock(d)}`;
}

/** Newest first by `created_at`; the server does not promise an order. Ties (same second)
 * fall back to the larger id, which the server issued later. Unparseable dates sink. */
export function sortLinks(links: readonly LinkInfo[]): LinkInfo[] {
  const key = (l: LinkInfo) => parse(l.created_at)?.getTime() ?? -Infinity;
  return [...links].sort((a, b) => key(b) - key(a) || b.id - a.id);
}

export function countLive(links: readonly LinkInfo[]): number {
  return links.reduce((n, l) => (l.status === 'live' ? n + 1 : n), 0);
}

export const SUFFIX_MAX = 40;
const SUFFIX_RE = /^[a-z0-9][a-z0-9_-]*$/;

/** The server's suffix rule: 1–40 of [a-z0-9_-], starting with a letter or digit.
 * Returns a sentence to show, or null when the suffix is fine. */
export function suffixProblem(suffix: string): string | null {
  if (suffix.length === 0) return 'The suffix is empty.';
  if (suffix.length > SUFFIX_MAX) return `Use at most ${SUFFIX_MAX} characters.`;
  if (!SUFFIX_RE.test(suffix)) {
    if (/^[_-]/.test(suffix)) return 'Start with a letter or a digit.';
    return 'Use only lowercase letters, digits, - and _.';
  }
  return null;
}

export const EXPIRY_MAX_DAYS = 3650;

/** Parses the optional "expires in days" field: '' means never. */
export function parseExpiryDays(text: string): { days: number | null } | { problem: string } {
  const t = text.trim();
  if (t === '') return { days: null };
  if (!/^\d+$/.test(t)) return { problem: 'Enter a whole number of days, or leave it empty.' };
  const days = Number(t);
  if (days < 1) return { problem: 'Enter at least 1 day, or leave it empty.' };
  if (days > EXPIRY_MAX_DAYS) return { problem: `Enter at most ${EXPIRY_MAX_DAYS} days (ten years).` };
  return { days };
}

/** An optional text field: blank means absent. */
export function optionalText(text: string): string | null {
  const t = text.trim();
  return t === '' ? null : t;
}

/** An `<img src>` for an SVG document. Percent-encoding (not base64) keeps it readable and
 * works for any UTF-8; the image context means scripts inside the SVG never run. */
export function svgDataUrl(svg: string): string {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

/** Only `[a-z0-9-]` of `text`, for file names: `web:demo/Flyer` -> `web-demo-flyer`. */
export function fileSlug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** A save path with an extension the Rust side accepts: a file name that does not end in one of
 * `extensions` (any case, with a name before the dot) gets `fallback`. Only the last path
 * segment counts (after the last slash or backslash), so a dotted folder is not an extension. */
export function withFileExtension(path: string, extensions: readonly string[], fallback: string): string {
  const name = path.split(/[\\/]/).pop() ?? '';
  const dot = name.lastIndexOf('.');
  if (dot > 0 && extensions.some((e) => e.toLowerCase() === name.slice(dot + 1).toLowerCase())) return path;
  return path.endsWith('.') ? `${path}${fallback}` : `${path}.${fallback}`;
}
