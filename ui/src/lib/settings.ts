// Pure helpers behind the Settings screen: the form's fields, the port and public URL checks
// (the core checks again: crates/core/src/app/settings.rs) and what the save toast says.

import type { ServerSettings } from '../bindings/ServerSettings';
import { optionalText } from './format';

export const PORT_MIN = 1024;
export const PORT_MAX = 65535;
export const DEFAULT_PORT = 8640;

/** The form as typed: the port stays text so a half-typed number is not lost or coerced. */
export type SettingsFields = {
  port: string;
  lan: boolean;
  public_url: string;
  keep_in_tray: boolean;
  notify_new_conversation: boolean;
  notify_handoff: boolean;
  keep_awake: boolean;
};

export type SettingsField = 'port' | 'public_url';
export type SettingsProblems = Partial<Record<SettingsField, string>>;

/** The port field: a whole number from 1024 to 65535. A sentence to show, or null. */
export function portProblem(text: string): string | null {
  const t = text.trim();
  if (t === '') return 'Enter a port number.';
  if (!/^\d+$/.test(t)) return `Enter a whole number from ${PORT_MIN} to ${PORT_MAX}.`;
  const port = Number(t);
  if (port < PORT_MIN) {
    return `Ports below ${PORT_MIN} are reserved for the system; pick one from ${PORT_MIN} to ${PORT_MAX} (${DEFAULT_PORT} is the usual).`;
  }
  if (port > PORT_MAX) return `The highest port is ${PORT_MAX}.`;
  return null;
}

/** The port as a number, or null while the field has a problem. */
export function parsePort(text: string): number | null {
  return portProblem(text) === null ? Number(text.trim()) : null;
}

/** The optional public URL: empty, or an http(s) address with nothing after its path. */
export function publicUrlProblem(text: string): string | null {
  const t = text.trim();
  if (t === '') return null;
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    return 'Enter a full address, like https://chat.example.com, or leave it empty.';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'The address must start with https:// or http://.';
  if (url.hostname === '') return 'The address needs a host name, like chat.example.com.';
  if (url.search !== '' || url.hash !== '' || /[?#]/.test(t)) {
    return 'Leave out the ?… and #… parts: links are added after the address.';
  }
  return null;
}

export function settingsProblems(fields: SettingsFields): SettingsProblems {
  const problems: SettingsProblems = {};
  const port = portProblem(fields.port);
  if (port) problems.port = port;
  const url = publicUrlProblem(fields.public_url);
  if (url) problems.public_url = url;
  return problems;
}

export function settingsFields(s: ServerSettings): SettingsFields {
  return {
    port: String(s.port),
    lan: s.lan,
    public_url: s.public_url ?? '',
    keep_in_tray: s.keep_in_tray,
    notify_new_conversation: s.notify_new_conversation,
    notify_handoff: s.notify_handoff,
    keep_awake: s.keep_awake,
  };
}

/** What `save_settings` takes. Call it only when `settingsProblems` is empty. */
export function settingsForm(fields: SettingsFields): ServerSettings {
  return {
    port: parsePort(fields.port) ?? Number.NaN,
    lan: fields.lan,
    public_url: optionalText(fields.public_url),
    keep_in_tray: fields.keep_in_tray,
    notify_new_conversation: fields.notify_new_conversation,
    notify_handoff: fields.notify_handoff,
    keep_awake: fields.keep_awake,
  };
}

// The server trims the URL and drops its trailing "/", so those do not count as changes.
function sameUrl(a: string | null, b: string | null): boolean {
  const norm = (u: string | null) => (u ?? '').trim().replace(/\/+$/, '');
  return norm(a) === norm(b);
}

/** Whether saving `fields` would change `saved`. */
export function settingsDirty(saved: ServerSettings, fields: SettingsFields): boolean {
  return (
    fields.port.trim() !== String(saved.port) ||
    fields.lan !== saved.lan ||
    fields.keep_in_tray !== saved.keep_in_tray ||
    fields.notify_new_conversation !== saved.notify_new_conversation ||
    fields.notify_handoff !== saved.notify_handoff ||
    fields.keep_awake !== saved.keep_awake ||
    !sameUrl(optionalText(fields.public_url), saved.public_url)
  );
}

/** Whether the server listens somewhere else after the save (another port or network). */
export function addressChanged(before: ServerSettings, after: ServerSettings): boolean {
  return before.port !== after.port || before.lan !== after.lan;
}

/** The toast after a save. `localUrl` and `lanUrl` are the reloaded status's; without a local
 * one the usual loopback address of the saved port stands in. Opening to the network names the
 * address phones use, since that is what the owner changed it for. */
export function savedMessage(
  before: ServerSettings,
  after: ServerSettings,
  localUrl: string | null,
  lanUrl: string | null = null,
): string {
  if (!addressChanged(before, after)) return 'Settings saved';
  if (after.lan && lanUrl) return `Settings saved — phones on your network can reach ${lanUrl}`;
  return `Settings saved — the server is now at ${localUrl ?? `http://127.0.0.1:${after.port}`}`;
}

// ---- Keeping conversations (applied on its own, at once: `set_retention`) ----

/** The core's range for the retention setting (`RETENTION_DAYS`). */
export const RETENTION_MIN = 1;
export const RETENTION_MAX = 3650;

/** The select's usual choices; null keeps conversations forever. */
export const RETENTION_CHOICES: readonly (number | null)[] = [null, 30, 90, 365];

/** The select's value for a setting: '' for forever, else the days. */
export function retentionValue(days: number | null): string {
  return days === null ? '' : String(days);
}

/** The setting for a select value: '' is forever. */
export function parseRetention(value: string): number | null {
  const t = value.trim();
  if (t === '') return null;
  const n = Number(t);
  return Number.isInteger(n) && n >= RETENTION_MIN && n <= RETENTION_MAX ? n : null;
}

export function retentionLabel(days: number | null): string {
  if (days === null) return 'Forever';
  return days === 1 ? '1 day' : `${days} days`;
}

/** The select's options: the usual choices, plus the saved one when it is another number (set
 * before, or elsewhere), so the select never shows a value it does not have. */
export function retentionOptions(current: number | null): { value: string; label: string }[] {
  const days = RETENTION_CHOICES.includes(current) ? [...RETENTION_CHOICES] : [...RETENTION_CHOICES, current].sort(
    (a, b) => (a ?? 0) - (b ?? 0),
  );
  return days.map((d) => ({ value: retentionValue(d), label: retentionLabel(d) }));
}

/** The toast after a change. */
export function retentionMessage(days: number | null, deleted: number): string {
  if (days === null) return 'Conversations are kept forever';
  return `Resolved conversations older than ${days} ${days === 1 ? 'day' : 'days'} will be deleted (${deleted} deleted now)`;
}
