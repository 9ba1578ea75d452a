// The window's only door to Rust. Every other file calls these typed functions, so the
// command names, argument shapes and error handling live in one place and the rest of the
// UI can be read (and tested) without Tauri.

import { invoke, isTauri } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import { writeText } from '@tauri-apps/plugin-clipboard-manager';
import { disable as disableAutostart, enable as enableAutostart, isEnabled as autostartIsEnabled } from '@tauri-apps/plugin-autostart';
import { open, save } from '@tauri-apps/plugin-dialog';
import { openUrl } from '@tauri-apps/plugin-opener';

import type { AgentEdit } from './bindings/AgentEdit';
import type { AgentInfo } from './bindings/AgentInfo';
import type { CommandError } from './bindings/CommandError';
import type { ConversationDetail } from './bindings/ConversationDetail';
import type { ConversationSummary } from './bindings/ConversationSummary';
import type { CreatedWidgetAppView } from './bindings/CreatedWidgetAppView';
import type { DayActivity } from './bindings/DayActivity';
import type { EmbeddingsForm } from './bindings/EmbeddingsForm';
import type { EmbeddingsInfo } from './bindings/EmbeddingsInfo';
import type { EngineForm } from './bindings/EngineForm';
import type { EngineInfo } from './bindings/EngineInfo';
import type { ExportForm } from './bindings/ExportForm';
import type { InboxFilterForm } from './bindings/InboxFilterForm';
import type { Knowledge } from './bindings/Knowledge';
import type { KnowledgeEdit } from './bindings/KnowledgeEdit';
import type { LanguageInfo } from './bindings/LanguageInfo';
import type { LearnSuggestion } from './bindings/LearnSuggestion';
import type { LinkEmbed } from './bindings/LinkEmbed';
import type { LinkInfo } from './bindings/LinkInfo';
import type { Look } from './bindings/Look';
import type { LookInfo } from './bindings/LookInfo';
import type { NewAgentForm } from './bindings/NewAgentForm';
import type { NewLink } from './bindings/NewLink';
import type { NewWidgetAppForm } from './bindings/NewWidgetAppForm';
import type { Overview } from './bindings/Overview';
import type { ProxyServer } from './bindings/ProxyServer';
import type { ReachCheck } from './bindings/ReachCheck';
import type { ReachView } from './bindings/ReachView';
import type { TunnelChoice } from './bindings/TunnelChoice';
import type { TunnelStatus } from './bindings/TunnelStatus';
import type { OwnerEventView } from './bindings/OwnerEventView';
import type { RouteRuleForm } from './bindings/RouteRuleForm';
import type { RouteRuleInfo } from './bindings/RouteRuleInfo';
import type { ServerSettings } from './bindings/ServerSettings';
import type { Shown } from './bindings/Shown';
import type { SimilarEntry } from './bindings/SimilarEntry';
import type { Status } from './bindings/Status';
import type { TestAnswer } from './bindings/TestAnswer';
import type { TranscriptMessage } from './bindings/TranscriptMessage';
import type { UnansweredQuestion } from './bindings/UnansweredQuestion';
import type { WidgetAppInfo } from './bindings/WidgetAppInfo';
import type { WidgetEmbed } from './bindings/WidgetEmbed';
import { withExportExtension } from './lib/inbox';
import { withQrExtension } from './lib/links';

export type {
  AgentEdit,
  AgentInfo,
  LanguageInfo,
  LinkEmbed,
  Look,
  LookInfo,
  CommandError,
  ConversationDetail,
  ConversationSummary,
  CreatedWidgetAppView,
  DayActivity,
  EmbeddingsForm,
  EmbeddingsInfo,
  EngineForm,
  EngineInfo,
  ExportForm,
  InboxFilterForm,
  Knowledge,
  KnowledgeEdit,
  LearnSuggestion,
  LinkInfo,
  NewAgentForm,
  NewLink,
  NewWidgetAppForm,
  Overview,
  OwnerEventView,
  ProxyServer,
  ReachCheck,
  ReachView,
  TunnelChoice,
  TunnelStatus,
  RouteRuleForm,
  RouteRuleInfo,
  ServerSettings,
  Shown,
  SimilarEntry,
  Status,
  TestAnswer,
  TranscriptMessage,
  UnansweredQuestion,
  WidgetAppInfo,
  WidgetEmbed,
};

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

// `npm run dev` in a plain browser: say so instead of a TypeError from the IPC layer.
function outsideApp(): CommandError {
  return fail('no_backend', 'This window needs the Chatlink app; the page was opened outside it.');
}

// Normalises every rejection to a CommandError so callers need a single error path.
async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  if (!isTauri()) throw outsideApp();
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

/** Home's counts; `since` is the start of the owner's day in ms (see `localMidnight`). */
export function overview(since: number): Promise<Overview> {
  return call<Overview>('overview', { since });
}

/** Who can open the links, the last self-test, the running tunnel and the tools found. */
export function reach(): Promise<ReachView> {
  return call<ReachView>('reach');
}

/** Runs the self-test through the links' address now (up to about 15 s). */
export function checkReach(): Promise<ReachCheck> {
  return call<ReachCheck>('check_reach');
}

export function startTunnel(choice: TunnelChoice): Promise<TunnelStatus> {
  return call<TunnelStatus>('start_tunnel', { choice });
}

export function stopTunnel(): Promise<void> {
  return call<void>('stop_tunnel');
}

export function dismissAddressChange(): Promise<void> {
  return call<void>('dismiss_address_change');
}

/** Reverse-proxy settings for the owner's own address and this server's port. */
export function proxyConfig(server: ProxyServer, url: string): Promise<string> {
  return call<string>('proxy_config', { server, url });
}

export function getSettings(): Promise<ServerSettings> {
  return call<ServerSettings>('get_settings');
}

/** Resolves to the settings as saved (a public URL normalised); the server has moved to the new
 * port/network by then. A port that cannot be taken rejects and changes nothing. */
export function saveSettings(settings: ServerSettings): Promise<ServerSettings> {
  return call<ServerSettings>('save_settings', { settings });
}

export function listLinks(): Promise<LinkInfo[]> {
  return call<LinkInfo[]>('list_links');
}

export function issueLink(req: NewLink): Promise<LinkInfo> {
  return call<LinkInfo>('issue_link', { req });
}

/** Pauses (visitors get "back soon") or resumes a link; its URL stays the same. */
export function pauseLink(id: number, paused: boolean): Promise<LinkInfo> {
  return call<LinkInfo>('pause_link', { id, paused });
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

/** Writes a live link's QR code to `path`, PNG or SVG after its extension (anything else is
 * `invalid_input`); resolves to the path written. */
export function saveLinkQr(id: number, path: string): Promise<string> {
  return call<string>('save_link_qr', { id, path });
}

/** Opens a live web link's chat page in the separate preview window. */
export function openPreview(id: number): Promise<null> {
  return call<null>('open_preview', { id });
}

/** Puts a live link's QR code on the clipboard as a PNG image (Rust writes the clipboard). */
export function copyLinkQr(id: number): Promise<null> {
  return call<null>('copy_link_qr', { id });
}

export function listAgents(): Promise<AgentInfo[]> {
  return call<AgentInfo[]>('list_agents');
}

export function getAgent(slug: string): Promise<AgentInfo> {
  return call<AgentInfo>('get_agent', { slug });
}

export function createAgent(req: NewAgentForm): Promise<AgentInfo> {
  return call<AgentInfo>('create_agent', { req });
}

/** Saves name, greeting, instructions and engine together. */
export function updateAgent(slug: string, edit: AgentEdit): Promise<AgentInfo> {
  return call<AgentInfo>('update_agent', { slug, edit });
}

/** Write-only: the key never comes back, only `engine.api_key_set`. `null` removes it. */
export function setApiKey(slug: string, key: string | null): Promise<AgentInfo> {
  return call<AgentInfo>('set_api_key', { slug, key });
}

/** Matches the agent's knowledge by meaning too, through this embeddings server; `null`: by
 * words alone. The knowledge is embedded in the background (`embeddings.ready`). */
export function setEmbeddings(slug: string, form: EmbeddingsForm | null): Promise<AgentInfo> {
  return call<AgentInfo>('set_embeddings', { slug, form });
}

/** Write-only, like `setApiKey`: only `embeddings.api_key_set` comes back. `null` removes it. */
export function setEmbeddingsKey(slug: string, key: string | null): Promise<AgentInfo> {
  return call<AgentInfo>('set_embeddings_key', { slug, key });
}

/** The saved agent's answer to a test question, as a visitor of `web:<slug>[/<suffix>]` would
 * get it (the suffix's override applies). Nothing is written on the server. */
export function askAgent(slug: string, suffix: string | null, question: string): Promise<TestAnswer> {
  return call<TestAnswer>('ask_agent', { slug, suffix, question });
}

/** The agent's per-suffix overrides, including ones on widget or hook JIDs (set elsewhere). */
export function listRouteRules(slug: string): Promise<RouteRuleInfo[]> {
  return call<RouteRuleInfo[]>('list_route_rules', { slug });
}

/** Sets `web:<slug>/<suffix>`'s persona and greeting; both empty removes the rule. */
export function setRouteRule(slug: string, rule: RouteRuleForm): Promise<null> {
  return call<null>('set_route_rule', { slug, rule });
}

/** Removes a rule by its JID, as listed. */
export function removeRouteRule(jid: string): Promise<null> {
  return call<null>('remove_route_rule', { jid });
}

export function listKnowledge(slug: string): Promise<Knowledge[]> {
  return call<Knowledge[]>('list_knowledge', { slug });
}

/** A `null` question makes a free-text entry. */
export function addKnowledge(slug: string, question: string | null, answer: string): Promise<Knowledge> {
  return call<Knowledge>('add_knowledge', { slug, question, answer });
}

/** The whole entry at once: question, answer, other phrasings and language, all or nothing. */
export function updateKnowledge(slug: string, id: number, entry: KnowledgeEdit): Promise<Knowledge> {
  return call<Knowledge>('update_knowledge', { slug, id, entry });
}

/** The questions the agent handed off, most asked first. */
export function listUnanswered(slug: string): Promise<UnansweredQuestion[]> {
  return call<UnansweredQuestion[]>('list_unanswered', { slug });
}

export function dismissUnanswered(slug: string, key: string): Promise<null> {
  return call<null>('dismiss_unanswered', { slug, key });
}

/** The visitor's question the owner last answered in a conversation, the answer, and entries
 * it may be another way of asking. */
export function learnSuggestion(conversationId: string): Promise<LearnSuggestion> {
  return call<LearnSuggestion>('learn_suggestion', { conversationId });
}

export function similarEntries(slug: string, question: string): Promise<SimilarEntry[]> {
  return call<SimilarEntry[]>('similar_entries', { slug, question });
}

/** Adds a visitor's question to the knowledge: a new entry with `answer`, or, with
 * `phrasingOf` (and no answer: the entry's stays), another way of asking that entry. `key`: the
 * unanswered question it answers, taken off the list. */
export function learn(
  slug: string,
  question: string,
  answer: string | null,
  phrasingOf: number | null,
  key: string | null,
): Promise<Knowledge> {
  return call<Knowledge>('learn', { slug, question, answer, phrasingOf, key });
}

export function removeKnowledge(slug: string, id: number): Promise<null> {
  return call<null>('remove_knowledge', { slug, id });
}

/** Imports a Markdown or CSV file, all or nothing; resolves to the entries added. */
export function importKnowledge(slug: string, path: string): Promise<Knowledge[]> {
  return call<Knowledge[]>('import_knowledge', { slug, path });
}

/** The inbox, newest activity first. Empty filter fields show everything; `limit` is 100 when
 * absent and at most 500. */
export function listConversations(filter: InboxFilterForm): Promise<ConversationSummary[]> {
  return call<ConversationSummary[]>('list_conversations', { filter });
}

/** A conversation and every message in it, oldest first. */
export function getConversation(id: string): Promise<ConversationDetail> {
  return call<ConversationDetail>('get_conversation', { id });
}

/** The owner answers from now on; the agent stays quiet in this conversation. */
export function takeOver(id: string): Promise<ConversationSummary> {
  return call<ConversationSummary>('take_over', { id });
}

/** The agent answers again; the conversation is open. */
export function handBack(id: string): Promise<ConversationSummary> {
  return call<ConversationSummary>('hand_back', { id });
}

/** Done; the agent answers if the visitor writes again. */
export function resolveConversation(id: string): Promise<ConversationSummary> {
  return call<ConversationSummary>('resolve_conversation', { id });
}

/** Blocks (its visitor's messages are refused) or unblocks a conversation. */
export function blockConversation(id: string, blocked: boolean): Promise<ConversationSummary> {
  return call<ConversationSummary>('block_conversation', { id, blocked });
}

/** Sends the owner's reply to the visitor at once (and takes over). Rejects with
 * `turn_in_progress` while the agent is still answering, `invalid_input` for an empty or too
 * long message. */
export function ownerReply(id: string, content: string): Promise<TranscriptMessage> {
  return call<TranscriptMessage>('owner_reply', { id, content });
}

/** Conversations started and visitor messages per day, oldest first, every day listed.
 * `utcOffsetMinutes` is east-positive (see `utcOffsetMinutes` in lib/chart); `linkId` null
 * counts every link. */
export function activity(days: number, utcOffsetMinutes: number, linkId: number | null): Promise<DayActivity[]> {
  return call<DayActivity[]>('activity', { days, utcOffsetMinutes, linkId });
}

/** Writes the conversations in `scope` to `path`, JSON or CSV after its extension (anything
 * else is `invalid_input`); resolves to the path written. */
export function exportConversations(scope: ExportForm, path: string): Promise<string> {
  return call<string>('export_conversations', { scope, path });
}

/** How many days conversations are kept; null keeps them forever. */
export function getRetention(): Promise<number | null> {
  return call<number | null>('get_retention');
}

/** Sets how long conversations are kept (null: forever) and applies it at once; resolves to
 * how many conversations that deleted. */
export function setRetention(days: number | null): Promise<number> {
  return call<number>('set_retention', { days });
}

/** The Rust side's event when a conversation starts, changes or is handed over. */
export const OWNER_EVENT = 'owner-event';

/** Calls `cb` for every owner event until the returned function is called. */
export async function onOwnerEvent(cb: (event: OwnerEventView) => void): Promise<() => void> {
  if (!isTauri()) throw outsideApp();
  try {
    return await listen<OwnerEventView>(OWNER_EVENT, (e) => cb(e.payload));
  } catch (e) {
    console.error('listening for owner events failed:', e);
    throw fail('event', 'Live updates are not available; use Refresh.');
  }
}

/** Sent when the owner clicks a notification: the id of the conversation to open. */
export const OPEN_CONVERSATION_EVENT = 'open-conversation';

export async function onOpenConversation(cb: (conversationId: string) => void): Promise<() => void> {
  if (!isTauri()) throw outsideApp();
  try {
    return await listen<string>(OPEN_CONVERSATION_EVENT, (e) => cb(e.payload));
  } catch (e) {
    console.error('listening for notification clicks failed:', e);
    throw fail('event', 'Clicking a notification will not open its conversation.');
  }
}

export function listWidgetApps(): Promise<WidgetAppInfo[]> {
  return call<WidgetAppInfo[]>('list_widget_apps');
}

/** The result holds the new appSecret: show it, then drop it. */
export function createWidgetApp(req: NewWidgetAppForm): Promise<CreatedWidgetAppView> {
  return call<CreatedWidgetAppView>('create_widget_app', { req });
}

export function revealAppSecret(appId: string): Promise<string> {
  return call<string>('reveal_app_secret', { appId });
}

/** Resolves to the NEW secret; the old one stopped working. */
export function rotateAppSecret(appId: string): Promise<string> {
  return call<string>('rotate_app_secret', { appId });
}

export function revokeWidgetApp(appId: string): Promise<WidgetAppInfo> {
  return call<WidgetAppInfo>('revoke_widget_app', { appId });
}

/** An empty list allows any website. */
export function setWidgetAppOrigins(appId: string, origins: string[]): Promise<WidgetAppInfo> {
  return call<WidgetAppInfo>('set_widget_app_origins', { appId, origins });
}

export function widgetEmbed(appId: string): Promise<WidgetEmbed> {
  return call<WidgetEmbed>('widget_embed', { appId });
}

export function languages(): Promise<LanguageInfo[]> {
  return call<LanguageInfo[]>('languages', {});
}

export function agentLook(slug: string): Promise<LookInfo> {
  return call<LookInfo>('agent_look', { slug });
}

/** What `look` would show, without saving it (the live preview). */
export function previewLook(slug: string, look: Look): Promise<LookInfo> {
  return call<LookInfo>('preview_look', { slug, look });
}

export function setAgentLook(slug: string, look: Look): Promise<LookInfo> {
  return call<LookInfo>('set_agent_look', { slug, look });
}

/** `bytes`: the picked file as it is; the core says whether it is a usable logo. */
export function setAgentLogo(slug: string, bytes: Uint8Array): Promise<LookInfo> {
  return call<LookInfo>('set_agent_logo', { slug, bytes: Array.from(bytes) });
}

/** A stored logo (`Look.logo`) as a `data:` URL: the window's CSP loads no image from the
 * local server. */
export function logoImage(id: string): Promise<string> {
  return call<string>('logo_image', { id });
}

export function appLook(appId: string): Promise<Look> {
  return call<Look>('app_look', { appId });
}

/** A widget app's overrides of its agent's look; empty fields show the agent's. */
export function setAppLook(appId: string, look: Look): Promise<Look> {
  return call<Look>('set_app_look', { appId, look });
}

/** A live chat link's one-line embed for a site builder, and the websites it works on. */
export function linkEmbed(id: number): Promise<LinkEmbed> {
  return call<LinkEmbed>('link_embed', { id });
}

/** Replaces the websites the link's one-line embed works on (none: it works on none). */
export function setLinkOrigins(id: number, origins: string[]): Promise<LinkInfo> {
  return call<LinkInfo>('set_link_origins', { id, origins });
}

export async function copyText(text: string): Promise<void> {
  try {
    await writeText(text);
  } catch (e) {
    console.error('clipboard write failed:', e);
    throw fail('clipboard', 'Could not copy to the clipboard.');
  }
}

/** The open-file dialog for a knowledge import; `null` when the owner cancels. */
export async function pickKnowledgeFile(): Promise<string | null> {
  if (!isTauri()) throw outsideApp();
  try {
    return await open({
      multiple: false,
      directory: false,
      filters: [{ name: 'Knowledge', extensions: ['md', 'csv', 'markdown', 'txt'] }],
    });
  } catch (e) {
    console.error('open file dialog failed:', e);
    throw fail('dialog', 'Could not open the file chooser.');
  }
}

/** The save dialog's title; the desktop end-to-end test finds the native dialog by it. */
export const QR_SAVE_TITLE = 'Save QR code';

/** The save-file dialog for a QR code; `null` when the owner cancels. A name without `.png` or
 * `.svg` gets `.png`, since the Rust side picks the format from the extension. */
/** The owner picks a tunnel program that is not on PATH; null when they cancel. */
export async function pickProgram(tool: string): Promise<string | null> {
  if (!isTauri()) throw outsideApp();
  try {
    return await open({ title: `Where is ${tool}?`, multiple: false, directory: false });
  } catch (e) {
    console.error('open file dialog failed:', e);
    throw fail('dialog', 'Could not open the file chooser.');
  }
}

export async function pickQrSavePath(defaultName: string): Promise<string | null> {
  if (!isTauri()) throw outsideApp();
  let path: string | null;
  try {
    path = await save({
      title: QR_SAVE_TITLE,
      defaultPath: defaultName,
      filters: [
        { name: 'PNG image', extensions: ['png'] },
        { name: 'SVG image', extensions: ['svg'] },
      ],
    });
  } catch (e) {
    console.error('save file dialog failed:', e);
    throw fail('dialog', 'Could not open the save dialog.');
  }
  return path ? withQrExtension(path) : null;
}

/** The export dialog's title; the desktop end-to-end test finds the native dialog by it. */
export const EXPORT_TITLE = 'Export conversations';

/** The save-file dialog for an export; `null` when the owner cancels. A name without `.csv` or
 * `.json` gets `.csv`, since the Rust side picks the format from the extension. */
export async function pickExportPath(defaultName: string): Promise<string | null> {
  if (!isTauri()) throw outsideApp();
  let path: string | null;
  try {
    path = await save({
      title: EXPORT_TITLE,
      defaultPath: defaultName,
      filters: [
        { name: 'CSV (spreadsheet)', extensions: ['csv'] },
        { name: 'JSON', extensions: ['json'] },
      ],
    });
  } catch (e) {
    console.error('save file dialog failed:', e);
    throw fail('dialog', 'Could not open the save dialog.');
  }
  return path ? withExportExtension(path) : null;
}

export async function openInBrowser(url: string): Promise<void> {
  try {
    await openUrl(url);
  } catch (e) {
    console.error('open url failed:', e);
    throw fail('open', 'Could not open the browser.');
  }
}

// Start at login goes through the autostart plugin, not a Chatlink command.
async function autostart<T>(what: string, fn: () => Promise<T>, message: string): Promise<T> {
  if (!isTauri()) throw outsideApp();
  try {
    return await fn();
  } catch (e) {
    console.error(`autostart ${what} failed:`, e);
    throw fail('autostart', message);
  }
}

/** Whether Chatlink starts when the owner logs in. */
export function isAutostartEnabled(): Promise<boolean> {
  return autostart('isEnabled', autostartIsEnabled, 'Could not read whether Chatlink starts at login.');
}

export function setAutostart(on: boolean): Promise<void> {
  return on
    ? autostart('enable', enableAutostart, 'Could not make Chatlink start at login.')
    : autostart('disable', disableAutostart, 'Could not stop Chatlink from starting at login.');
}
