// Pure helpers and vocabulary behind the Widget screen. Limits mirror the core's
// (crates/core/src/app/widget.rs); the server checks (and normalises) again either way.

import type { WidgetEmbed } from '../bindings/WidgetEmbed';

export const MAX_ORIGINS = 20;
export const TTL_DEFAULT_MINUTES = 15;
/** The server takes 5 s to 24 h; the form speaks whole minutes. */
export const TTL_MAX_MINUTES = 24 * 60;

export const ORIGINS_HINT =
  'Leave empty to allow any website. This is a browser control, not a password: the appSecret is what protects your app.';

export const SECRET_WARNING =
  "Copy it now and keep it on your website's server only. You can reveal it again later from this computer's keyring.";

export type WidgetConfirm = 'rotate' | 'revoke';

/** The confirmations, word for word. */
export const WIDGET_CONFIRM_TEXT: Record<WidgetConfirm, string> = {
  rotate:
    "Rotate the appSecret? The old secret stops working at once, and open chats renew their session with your backend's new secret. Update your website's server right after.",
  revoke:
    'Revoke this widget app? The chat disappears from every website using it, at once, including open chats. This cannot be undone.',
};

/** `details` toggles the details; `open` (a click on the row) only opens them. */
export type WidgetAction = 'details' | 'open' | 'embed' | 'copy-snippet' | 'copy-token' | 'reveal' | 'rotate' | 'revoke' | 'origins';

/** `origins` is saved through its own form, not `onaction`; it still needs a busy key. */
export function widgetBusyKey(appId: string, action: WidgetAction): string {
  return `${appId}:${action}`;
}

/** An app's embed texts, fetched when its details are first opened. */
export type EmbedState = { embed: WidgetEmbed } | { error: string } | { loading: true };

/** A secret on screen: which app, and why it is shown (the panel's title says so). */
export type ShownSecret = { appId: string; value: string; reason: 'created' | 'revealed' | 'rotated' };

// Same origin for the purpose of spotting repeats: scheme and host are case-insensitive, and
// a trailing "/" is what browsers add. The server does the full normalisation.
function originKey(origin: string): string {
  return origin.toLowerCase().replace(/\/$/, '');
}

/** The "allowed origins" textarea: one per line, trimmed, blanks dropped, repeats dropped
 * (the first spelling wins). */
export function parseOrigins(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    const origin = line.trim();
    if (origin === '') continue;
    const key = originKey(origin);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(origin);
  }
  return out;
}

/** The textarea's text for a saved list. */
export function originsText(origins: readonly string[]): string {
  return origins.join('\n');
}

// scheme://host[:port] with an optional trailing "/": no path, query, fragment or spaces.
const ORIGIN_RE = /^https?:\/\/[^\s/?#]+\/?$/i;

/** A sentence for the first problem in the list, or null. Only rejects what the server
 * rejects too; it catches the usual slips (a path, a missing scheme) before a round trip. */
export function originsProblem(origins: readonly string[]): string | null {
  if (origins.length > MAX_ORIGINS) return `List at most ${MAX_ORIGINS} websites.`;
  for (const o of origins) {
    if (!/^https?:\/\//i.test(o)) return `“${o}” needs http:// or https:// in front, like https://shop.example.`;
    if (!ORIGIN_RE.test(o)) return `“${o}” is not an origin: write just the scheme and host, like https://shop.example or http://localhost:3000.`;
  }
  return null;
}

/** "Any website" for an empty list. */
export function originsLabel(origins: readonly string[]): string {
  return origins.length === 0 ? 'Any website' : origins.join(', ');
}

/** Parses the "session length" field in minutes: blank means the server's default (15). */
export function parseTtlMinutes(text: string): { minutes: number | null } | { problem: string } {
  const t = text.trim();
  if (t === '') return { minutes: null };
  if (!/^\d+$/.test(t)) return { problem: 'Enter a whole number of minutes.' };
  const minutes = Number(t);
  if (minutes < 1) return { problem: 'Enter at least 1 minute.' };
  if (minutes > TTL_MAX_MINUTES) return { problem: `Enter at most ${TTL_MAX_MINUTES} minutes (24 hours).` };
  return { minutes };
}

/** "15 min", "2 h", "1 h 30 min", "45 s". */
export function ttlLabel(secs: number): string {
  if (!Number.isFinite(secs) || secs <= 0) return '—';
  if (secs % 60 !== 0) return secs < 60 ? `${secs} s` : `${Math.floor(secs / 60)} min ${secs % 60} s`;
  const minutes = secs / 60;
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}
