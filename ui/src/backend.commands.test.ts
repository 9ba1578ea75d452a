// The invoke argument keys are the contract with the Rust commands (Tauri maps camelCase keys
// to snake_case parameters), so each wrapper's command name and arguments are pinned here.
import { beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.fn();
const listen = vi.fn();
const open = vi.fn();
const save = vi.fn();
const autostart = { isEnabled: vi.fn(), enable: vi.fn(), disable: vi.fn() };

vi.mock('@tauri-apps/api/core', () => ({ invoke: (...a: unknown[]) => invoke(...a), isTauri: () => true }));
vi.mock('@tauri-apps/api/event', () => ({ listen: (...a: unknown[]) => listen(...a) }));
vi.mock('@tauri-apps/plugin-dialog', () => ({
  open: (...a: unknown[]) => open(...a),
  save: (...a: unknown[]) => save(...a),
}));
vi.mock('@tauri-apps/plugin-clipboard-manager', () => ({ writeText: vi.fn() }));
vi.mock('@tauri-apps/plugin-opener', () => ({ openUrl: vi.fn() }));
vi.mock('@tauri-apps/plugin-autostart', () => ({
  isEnabled: () => autostart.isEnabled(),
  enable: () => autostart.enable(),
  disable: () => autostart.disable(),
}));

const backend = await import('./backend');

beforeEach(() => {
  invoke.mockReset();
  invoke.mockResolvedValue('ok');
  listen.mockReset();
  open.mockReset();
  save.mockReset();
  for (const f of Object.values(autostart)) f.mockReset();
});

describe('command wrappers', () => {
  const engine = { kind: 'openai', base_url: 'https://api.openai.com/v1', model: 'gpt-4o-mini' } as const;
  const edit = { name: 'Acme', greeting: '', instructions: '', engine, budget: { max_tokens: 500, daily_requests: 100, daily_tokens: 50_000 } };
  const newAgent = { slug: 'acme', name: 'Acme', greeting: '', instructions: '' };
  const meaning = { base_url: 'http://127.0.0.1:11434/v1', model: 'nomic-embed-text' };
  const newApp = { folder: 'acme', name: null, origins: [], token_ttl_minutes: 15 };
  const settings = {
    port: 8640,
    lan: true,
    public_url: null,
    keep_in_tray: true,
    notify_new_conversation: true,
    notify_handoff: false,
    keep_awake: true,
  };
  const filter = { agent: 'acme', jid: null, state: 'handoff', search: 'refund', limit: 100, offset: 0 };
  const one = { kind: 'conversation', id: 'c_1' } as const;
  const look = { accent: '#1d4ed8', logo: null, title: null, side: 'left', launcher: 'Chat with us', language: 'de' } as const;
  const between = { kind: 'between', from: 1_740_000_000_000, to: 1_742_592_000_000 } as const;
  const rule = { suffix: 'flyer', persona: 'Be brief.', greeting: null };
  const entry = { question: 'Q', answer: 'A', phrasings: ['Q2'], lang: 'en' as const };
  const newLink = { folder: 'acme', suffix: 'flyer', label: null, expires_in_days: 30 };
  const quick = { kind: 'cloudflared', program: null, named: null } as const;

  const cases: [string, () => Promise<unknown>, string, Record<string, unknown> | undefined][] = [
    ['status', () => backend.status(), 'status', undefined],
    ['overview', () => backend.overview(1_700_000_000_000), 'overview', { since: 1_700_000_000_000 }],
    ['getSettings', () => backend.getSettings(), 'get_settings', undefined],
    ['reach', () => backend.reach(), 'reach', undefined],
    ['checkReach', () => backend.checkReach(), 'check_reach', undefined],
    ['startTunnel', () => backend.startTunnel(quick), 'start_tunnel', { choice: quick }],
    ['stopTunnel', () => backend.stopTunnel(), 'stop_tunnel', undefined],
    ['dismissAddressChange', () => backend.dismissAddressChange(), 'dismiss_address_change', undefined],
    ['proxyConfig', () => backend.proxyConfig('nginx', 'https://chat.example.com'), 'proxy_config', { server: 'nginx', url: 'https://chat.example.com' }],
    ['saveSettings', () => backend.saveSettings(settings), 'save_settings', { settings }],
    ['listLinks', () => backend.listLinks(), 'list_links', undefined],
    ['issueLink', () => backend.issueLink(newLink), 'issue_link', { req: newLink }],
    ['pauseLink', () => backend.pauseLink(3, true), 'pause_link', { id: 3, paused: true }],
    ['revokeLink', () => backend.revokeLink(3), 'revoke_link', { id: 3 }],
    ['reissueLink', () => backend.reissueLink(3), 'reissue_link', { id: 3 }],
    ['linkQrSvg', () => backend.linkQrSvg(3), 'link_qr_svg', { id: 3 }],
    ['openPreview', () => backend.openPreview(3), 'open_preview', { id: 3 }],
    ['copyLinkQr', () => backend.copyLinkQr(3), 'copy_link_qr', { id: 3 }],
    ['saveLinkQr', () => backend.saveLinkQr(3, '/home/me/flyer.svg'), 'save_link_qr', { id: 3, path: '/home/me/flyer.svg' }],
    ['getAgent', () => backend.getAgent('acme'), 'get_agent', { slug: 'acme' }],
    ['listAgents', () => backend.listAgents(), 'list_agents', undefined],
    ['createAgent', () => backend.createAgent(newAgent), 'create_agent', { req: newAgent }],
    ['updateAgent', () => backend.updateAgent('acme', edit), 'update_agent', { slug: 'acme', edit }],
    ['setApiKey', () => backend.setApiKey('acme', 'sk-1'), 'set_api_key', { slug: 'acme', key: 'sk-1' }],
    ['setApiKey(null)', () => backend.setApiKey('acme', null), 'set_api_key', { slug: 'acme', key: null }],
    ['setEmbeddings', () => backend.setEmbeddings('acme', meaning), 'set_embeddings', { slug: 'acme', form: meaning }],
    ['setEmbeddings(null)', () => backend.setEmbeddings('acme', null), 'set_embeddings', { slug: 'acme', form: null }],
    ['setEmbeddingsKey', () => backend.setEmbeddingsKey('acme', 'sk-2'), 'set_embeddings_key', { slug: 'acme', key: 'sk-2' }],
    ['setEmbeddingsKey(null)', () => backend.setEmbeddingsKey('acme', null), 'set_embeddings_key', { slug: 'acme', key: null }],
    ['askAgent', () => backend.askAgent('acme', 'flyer', 'Open on Sunday?'), 'ask_agent', { slug: 'acme', suffix: 'flyer', question: 'Open on Sunday?' }],
    ['askAgent(null)', () => backend.askAgent('acme', null, 'Hi'), 'ask_agent', { slug: 'acme', suffix: null, question: 'Hi' }],
    ['listRouteRules', () => backend.listRouteRules('acme'), 'list_route_rules', { slug: 'acme' }],
    ['setRouteRule', () => backend.setRouteRule('acme', rule), 'set_route_rule', { slug: 'acme', rule }],
    ['removeRouteRule', () => backend.removeRouteRule('web:acme/flyer'), 'remove_route_rule', { jid: 'web:acme/flyer' }],
    ['listKnowledge', () => backend.listKnowledge('acme'), 'list_knowledge', { slug: 'acme' }],
    ['addKnowledge', () => backend.addKnowledge('acme', null, 'A'), 'add_knowledge', { slug: 'acme', question: null, answer: 'A' }],
    [
      'updateKnowledge',
      () => backend.updateKnowledge('acme', 7, entry),
      'update_knowledge',
      { slug: 'acme', id: 7, entry },
    ],
    ['listUnanswered', () => backend.listUnanswered('acme'), 'list_unanswered', { slug: 'acme' }],
    ['dismissUnanswered', () => backend.dismissUnanswered('acme', 'en:vegan cake'), 'dismiss_unanswered', { slug: 'acme', key: 'en:vegan cake' }],
    ['learnSuggestion', () => backend.learnSuggestion('c_1'), 'learn_suggestion', { conversationId: 'c_1' }],
    ['similarEntries', () => backend.similarEntries('acme', 'vegan?'), 'similar_entries', { slug: 'acme', question: 'vegan?' }],
    ['learn', () => backend.learn('acme', 'vegan?', 'Yes.', null, 'cake vegan'), 'learn', { slug: 'acme', question: 'vegan?', answer: 'Yes.', phrasingOf: null, key: 'cake vegan' }],
    ['learn as a phrasing', () => backend.learn('acme', 'vegan?', null, 3, null), 'learn', { slug: 'acme', question: 'vegan?', answer: null, phrasingOf: 3, key: null }],
    ['removeKnowledge', () => backend.removeKnowledge('acme', 7), 'remove_knowledge', { slug: 'acme', id: 7 }],
    ['importKnowledge', () => backend.importKnowledge('acme', '/tmp/faq.md'), 'import_knowledge', { slug: 'acme', path: '/tmp/faq.md' }],
    ['listWidgetApps', () => backend.listWidgetApps(), 'list_widget_apps', undefined],
    ['createWidgetApp', () => backend.createWidgetApp(newApp), 'create_widget_app', { req: newApp }],
    ['revealAppSecret', () => backend.revealAppSecret('app_1'), 'reveal_app_secret', { appId: 'app_1' }],
    ['rotateAppSecret', () => backend.rotateAppSecret('app_1'), 'rotate_app_secret', { appId: 'app_1' }],
    ['revokeWidgetApp', () => backend.revokeWidgetApp('app_1'), 'revoke_widget_app', { appId: 'app_1' }],
    [
      'setWidgetAppOrigins',
      () => backend.setWidgetAppOrigins('app_1', ['https://shop.example']),
      'set_widget_app_origins',
      { appId: 'app_1', origins: ['https://shop.example'] },
    ],
    ['widgetEmbed', () => backend.widgetEmbed('app_1'), 'widget_embed', { appId: 'app_1' }],
    ['languages', () => backend.languages(), 'languages', {}],
    ['agentLook', () => backend.agentLook('acme'), 'agent_look', { slug: 'acme' }],
    ['previewLook', () => backend.previewLook('acme', look), 'preview_look', { slug: 'acme', look }],
    ['setAgentLook', () => backend.setAgentLook('acme', look), 'set_agent_look', { slug: 'acme', look }],
    ['setAgentLogo', () => backend.setAgentLogo('acme', new Uint8Array([137, 80])), 'set_agent_logo', { slug: 'acme', bytes: [137, 80] }],
    ['appLook', () => backend.appLook('app_1'), 'app_look', { appId: 'app_1' }],
    ['setAppLook', () => backend.setAppLook('app_1', look), 'set_app_look', { appId: 'app_1', look }],
    ['linkEmbed', () => backend.linkEmbed(3), 'link_embed', { id: 3 }],
    ['logoImage', () => backend.logoImage('3f9a'), 'logo_image', { id: '3f9a' }],
    ['setLinkOrigins', () => backend.setLinkOrigins(3, []), 'set_link_origins', { id: 3, origins: [] }],
    ['listConversations', () => backend.listConversations(filter), 'list_conversations', { filter }],
    ['getConversation', () => backend.getConversation('c_1'), 'get_conversation', { id: 'c_1' }],
    ['takeOver', () => backend.takeOver('c_1'), 'take_over', { id: 'c_1' }],
    ['handBack', () => backend.handBack('c_1'), 'hand_back', { id: 'c_1' }],
    ['resolveConversation', () => backend.resolveConversation('c_1'), 'resolve_conversation', { id: 'c_1' }],
    ['blockConversation', () => backend.blockConversation('c_1', false), 'block_conversation', { id: 'c_1', blocked: false }],
    ['ownerReply', () => backend.ownerReply('c_1', 'Yes, until 6.'), 'owner_reply', { id: 'c_1', content: 'Yes, until 6.' }],
    ['activity', () => backend.activity(30, 60, null), 'activity', { days: 30, utcOffsetMinutes: 60, linkId: null }],
    ['activity(link)', () => backend.activity(30, -300, 7), 'activity', { days: 30, utcOffsetMinutes: -300, linkId: 7 }],
    [
      'exportConversations(conversation)',
      () => backend.exportConversations(one, '/home/me/c.json'),
      'export_conversations',
      { scope: one, path: '/home/me/c.json' },
    ],
    [
      'exportConversations(between)',
      () => backend.exportConversations(between, '/home/me/march.csv'),
      'export_conversations',
      { scope: between, path: '/home/me/march.csv' },
    ],
    ['getRetention', () => backend.getRetention(), 'get_retention', undefined],
    ['setRetention', () => backend.setRetention(90), 'set_retention', { days: 90 }],
    ['setRetention(null)', () => backend.setRetention(null), 'set_retention', { days: null }],
  ];

  it.each(cases)('%s invokes its command with the contract keys', async (_, run, cmd, args) => {
    await expect(run()).resolves.toBe('ok');
    expect(invoke).toHaveBeenCalledTimes(1);
    expect(invoke).toHaveBeenCalledWith(cmd, args);
  });

  it("passes a CommandError through and hides anything else", async () => {
    invoke.mockRejectedValueOnce({ code: 'not_found', message: 'No such agent.' });
    await expect(backend.getAgent('x')).rejects.toEqual({ code: 'not_found', message: 'No such agent.' });
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {});
    invoke.mockRejectedValueOnce('command get_agent not found');
    await expect(backend.getAgent('x')).rejects.toMatchObject({ code: 'unexpected' });
    quiet.mockRestore();
  });
});

describe('pickKnowledgeFile', () => {
  it('asks for one Markdown or CSV file', async () => {
    open.mockResolvedValueOnce('/home/me/faq.csv');
    await expect(backend.pickKnowledgeFile()).resolves.toBe('/home/me/faq.csv');
    expect(open).toHaveBeenCalledWith({
      multiple: false,
      directory: false,
      filters: [{ name: 'Knowledge', extensions: ['md', 'csv', 'markdown', 'txt'] }],
    });
  });

  it('resolves to null when cancelled, and turns a failure into a CommandError', async () => {
    open.mockResolvedValueOnce(null);
    await expect(backend.pickKnowledgeFile()).resolves.toBeNull();
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {});
    open.mockRejectedValueOnce(new Error('dialog.open not allowed'));
    await expect(backend.pickKnowledgeFile()).rejects.toEqual({ code: 'dialog', message: 'Could not open the file chooser.' });
    quiet.mockRestore();
  });
});

describe('pickQrSavePath', () => {
  const filters = [
    { name: 'PNG image', extensions: ['png'] },
    { name: 'SVG image', extensions: ['svg'] },
  ];

  it('suggests the name and offers PNG and SVG', async () => {
    save.mockResolvedValueOnce('/home/me/flyer.svg');
    await expect(backend.pickQrSavePath('chatlink-web-demo-flyer-qr.png')).resolves.toBe('/home/me/flyer.svg');
    expect(save).toHaveBeenCalledTimes(1);
    expect(save).toHaveBeenCalledWith({ title: 'Save QR code', defaultPath: 'chatlink-web-demo-flyer-qr.png', filters });
    expect(invoke).not.toHaveBeenCalled();
  });

  it('adds .png when the chosen name has neither extension', async () => {
    save.mockResolvedValueOnce('/home/me/flyer');
    await expect(backend.pickQrSavePath('x.png')).resolves.toBe('/home/me/flyer.png');
  });

  it('resolves to null when cancelled, and turns a failure into a CommandError', async () => {
    save.mockResolvedValueOnce(null);
    await expect(backend.pickQrSavePath('x.png')).resolves.toBeNull();
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {});
    save.mockRejectedValueOnce(new Error('dialog.save not allowed'));
    await expect(backend.pickQrSavePath('x.png')).rejects.toEqual({ code: 'dialog', message: 'Could not open the save dialog.' });
    quiet.mockRestore();
  });
});

describe('pickExportPath', () => {
  const filters = [
    { name: 'CSV (spreadsheet)', extensions: ['csv'] },
    { name: 'JSON', extensions: ['json'] },
  ];

  it('asks with its own title and offers CSV and JSON', async () => {
    save.mockResolvedValueOnce('/home/me/march.json');
    await expect(backend.pickExportPath('chatlink-conversations-2025-03-01-to-2025-03-30.csv')).resolves.toBe('/home/me/march.json');
    expect(save).toHaveBeenCalledWith({
      title: 'Export conversations',
      defaultPath: 'chatlink-conversations-2025-03-01-to-2025-03-30.csv',
      filters,
    });
    expect(backend.EXPORT_TITLE).toBe('Export conversations');
    expect(invoke).not.toHaveBeenCalled();
  });

  it('adds .csv when the chosen name has neither extension', async () => {
    save.mockResolvedValueOnce('/home/me/march');
    await expect(backend.pickExportPath('x.csv')).resolves.toBe('/home/me/march.csv');
    save.mockResolvedValueOnce('/home/me/March.JSON');
    await expect(backend.pickExportPath('x.csv')).resolves.toBe('/home/me/March.JSON');
  });

  it('resolves to null when cancelled, and turns a failure into a CommandError', async () => {
    save.mockResolvedValueOnce(null);
    await expect(backend.pickExportPath('x.csv')).resolves.toBeNull();
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {});
    save.mockRejectedValueOnce(new Error('dialog.save not allowed'));
    await expect(backend.pickExportPath('x.csv')).rejects.toEqual({ code: 'dialog', message: 'Could not open the save dialog.' });
    quiet.mockRestore();
  });
});

describe('onOwnerEvent', () => {
  it("listens to 'owner-event' and hands over the payload only", async () => {
    const unlisten = vi.fn();
    listen.mockResolvedValueOnce(unlisten);
    const seen: unknown[] = [];
    const stop = await backend.onOwnerEvent((e) => seen.push(e));
    expect(listen).toHaveBeenCalledTimes(1);
    expect(listen.mock.calls[0][0]).toBe('owner-event');
    const handler = listen.mock.calls[0][1] as (e: unknown) => void;
    handler({ event: 'owner-event', id: 1, payload: { kind: 'handoff', conversation_id: 'c_1' } });
    expect(seen).toEqual([{ kind: 'handoff', conversation_id: 'c_1' }]);
    stop();
    expect(unlisten).toHaveBeenCalledTimes(1);
    expect(invoke).not.toHaveBeenCalled();
  });

  it('turns a failure to listen into a CommandError', async () => {
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {});
    listen.mockRejectedValueOnce(new Error('event.listen not allowed'));
    await expect(backend.onOwnerEvent(() => {})).rejects.toMatchObject({ code: 'event' });
    quiet.mockRestore();
  });
});

describe('autostart', () => {
  it('reads, enables and disables through the plugin, not a command', async () => {
    autostart.isEnabled.mockResolvedValueOnce(true);
    await expect(backend.isAutostartEnabled()).resolves.toBe(true);
    autostart.enable.mockResolvedValueOnce(undefined);
    await backend.setAutostart(true);
    autostart.disable.mockResolvedValueOnce(undefined);
    await backend.setAutostart(false);
    expect(autostart.isEnabled).toHaveBeenCalledTimes(1);
    expect(autostart.enable).toHaveBeenCalledTimes(1);
    expect(autostart.disable).toHaveBeenCalledTimes(1);
    expect(invoke).not.toHaveBeenCalled();
  });

  it("turns the plugin's failures into CommandErrors with code autostart", async () => {
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {});
    autostart.isEnabled.mockRejectedValueOnce('autostart.is_enabled not allowed');
    await expect(backend.isAutostartEnabled()).rejects.toMatchObject({ code: 'autostart' });
    autostart.enable.mockRejectedValueOnce(new Error('no autostart dir'));
    await expect(backend.setAutostart(true)).rejects.toEqual({
      code: 'autostart',
      message: 'Could not make Chatlink start at login.',
    });
    autostart.disable.mockRejectedValueOnce(new Error('x'));
    await expect(backend.setAutostart(false)).rejects.toMatchObject({ code: 'autostart' });
    quiet.mockRestore();
  });
});
