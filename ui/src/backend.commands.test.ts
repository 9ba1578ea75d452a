// The invoke argument keys are the contract with the Rust commands (Tauri maps camelCase keys
// to snake_case parameters), so each wrapper's command name and arguments are pinned here.
import { beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.fn();
const open = vi.fn();
const save = vi.fn();

vi.mock('@tauri-apps/api/core', () => ({ invoke: (...a: unknown[]) => invoke(...a), isTauri: () => true }));
vi.mock('@tauri-apps/plugin-dialog', () => ({
  open: (...a: unknown[]) => open(...a),
  save: (...a: unknown[]) => save(...a),
}));
vi.mock('@tauri-apps/plugin-clipboard-manager', () => ({ writeText: vi.fn() }));
vi.mock('@tauri-apps/plugin-opener', () => ({ openUrl: vi.fn() }));

const backend = await import('./backend');

beforeEach(() => {
  invoke.mockReset();
  invoke.mockResolvedValue('ok');
  open.mockReset();
  save.mockReset();
});

describe('command wrappers', () => {
  const engine = { kind: 'openai', base_url: 'https://api.openai.com/v1', model: 'gpt-4o-mini' } as const;
  const edit = { name: 'Acme', greeting: '', instructions: '', engine };
  const newAgent = { slug: 'acme', name: 'Acme', greeting: '', instructions: '' };
  const newApp = { folder: 'acme', name: null, origins: [], token_ttl_minutes: 15 };

  const cases: [string, () => Promise<unknown>, string, Record<string, unknown> | undefined][] = [
    ['saveLinkQr', () => backend.saveLinkQr(3, '/home/me/flyer.svg'), 'save_link_qr', { id: 3, path: '/home/me/flyer.svg' }],
    ['getAgent', () => backend.getAgent('acme'), 'get_agent', { slug: 'acme' }],
    ['listAgents', () => backend.listAgents(), 'list_agents', undefined],
    ['createAgent', () => backend.createAgent(newAgent), 'create_agent', { req: newAgent }],
    ['updateAgent', () => backend.updateAgent('acme', edit), 'update_agent', { slug: 'acme', edit }],
    ['setApiKey', () => backend.setApiKey('acme', 'sk-1'), 'set_api_key', { slug: 'acme', key: 'sk-1' }],
    ['setApiKey(null)', () => backend.setApiKey('acme', null), 'set_api_key', { slug: 'acme', key: null }],
    ['listKnowledge', () => backend.listKnowledge('acme'), 'list_knowledge', { slug: 'acme' }],
    ['addKnowledge', () => backend.addKnowledge('acme', null, 'A'), 'add_knowledge', { slug: 'acme', question: null, answer: 'A' }],
    [
      'updateKnowledge',
      () => backend.updateKnowledge('acme', 7, 'Q', 'A'),
      'update_knowledge',
      { slug: 'acme', id: 7, question: 'Q', answer: 'A' },
    ],
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
