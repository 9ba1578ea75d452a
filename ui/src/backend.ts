// The window's only door to Rust. Every other file calls these typed functions, so the
// command names, argument shapes and error handling live in one place and the rest of the
// UI can be read (and tested) without Tauri.

import { invoke, isTauri } from '@tauri-apps/api/core';
import { writeText } from '@tauri-apps/plugin-clipboard-manager';
import { openUrl } from '@tauri-apps/plugin-opener';

import type { AgentInfo } from './bindings/AgentInfo';
import type { CommandError } from './bindings/CommandError';
import type { LinkInfo } from './bindings/LinkInfo';
import type { NewLink } from './bindings/NewLink';
import type { Status } from './bindings/Status';

export type { AgentInfo, CommandError, LinkInfo, NewLink, Status };

const GENERIC = 'Something went wrong. Please try again.';

export function isCommandError(e: unknown): e is CommandError {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  return typeof o.code === 'string' && typeof o.message === 'string';
}

/** The sentence to show for a failure. Only the server's own messages are shown verbatim:
 * anything else (a JS exception, a plugin's raw string) may be technical noise. */
export function errorMessage(e: unknown): string {
  return isCommandError(e) && e.message.trim() !== '' ? e.message : GENERIC;
}

/** The stable code to branch on; messages are for people and may change. */
export function errorCode(e: unknown): string | null {
  return isCommandError(e) ? e.code : null;
}

function fail(code: string, message: string): CommandError {
  return { code, message };
}

// Normalises every rejection to a CommandError so callers need a single error path.
async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  if (!isTauri()) {
    // `npm run dev` in a plain browser: say so instead of a TypeError from the IPC layer.
    throw fail('no_backend', 'This window needs the Chatlink app; the page was opened outside it.');
  }
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    if (isCommandError(e)) throw e;
    // e.g. "command x not found" while the Rust side lags behind: useful to a developer only.
    console.error(`command ${cmd} failed:`, e);
    throw fail('unexpected', GENERIC);
  }
}

export function status(): Promise<Status> {
  return call<Status>('status');
}

export function listLinks(): Promise<LinkInfo[]> {
  return call<LinkInfo[]>('list_links');
}

export function issueLink(req: NewLink): Promise<LinkInfo> {
  return call<LinkInfo>('issue_link', { req });
}

export function revokeLink(id: number): Promise<LinkInfo> {
  return call<LinkInfo>('revoke_link', { id });
}

/** Resolves to the NEW link; the old one is revoked by then. */
export function reissueLink(id: number): Promise<LinkInfo> {
  return call<LinkInfo>('reissue_link', { id });
}

/** An SVG document for a live link's URL. */
export function linkQrSvg(id: number): Promise<string> {
  return call<string>('link_qr_svg', { id });
}

export function listAgents(): Promise<AgentInfo[]> {
  return call<AgentInfo[]>('list_agents');
}

export async function copyText(text: string): Promise<void> {
  try {
    await writeText(text);
  } catch (e) {
    console.error('clipboard write failed:', e);
    throw fail('clipboard', 'Could not copy to the clipboard.');
  }
}

export async function openInBrowser(url: string): Promise<void> {
  try {
    await openUrl(url);
  } catch (e) {
    console.error('open url failed:', e);
    throw fail('open', 'Could not open the browser.');
  }
}
