import { describe, expect, it } from 'vitest';

import type { ServerSettings } from '../bindings/ServerSettings';
import {
  addressChanged,
  parsePort,
  portProblem,
  publicUrlProblem,
  parseRetention,
  retentionLabel,
  retentionMessage,
  retentionOptions,
  retentionValue,
  savedMessage,
  settingsDirty,
  settingsFields,
  settingsForm,
  settingsProblems,
} from './settings';

const saved: ServerSettings = {
  port: 8640,
  lan: false,
  public_url: null,
  keep_in_tray: true,
  notify_new_conversation: true,
  notify_handoff: true,
  keep_awake: false,
};
const notify = { notify_new_conversation: true, notify_handoff: false, keep_awake: false };

describe('portProblem', () => {
  it('accepts 1024 to 65535', () => {
    for (const p of ['1024', '8640', ' 9000 ', '65535']) expect(portProblem(p)).toBeNull();
    expect(parsePort(' 9000 ')).toBe(9000);
  });

  it('explains what is wrong', () => {
    expect(portProblem('')).toBe('Enter a port number.');
    expect(portProblem('  ')).toBe('Enter a port number.');
    for (const p of ['80a', '-1', '8640.5', '1e4', '0x2000']) expect(portProblem(p)).toBe('Enter a whole number from 1024 to 65535.');
    expect(portProblem('80')).toMatch(/^Ports below 1024 are reserved/);
    expect(portProblem('1023')).toMatch(/^Ports below 1024/);
    expect(portProblem('0')).toMatch(/^Ports below 1024/);
    expect(portProblem('65536')).toBe('The highest port is 65535.');
    expect(portProblem('99999999999999999999')).toBe('The highest port is 65535.');
    expect(parsePort('80')).toBeNull();
  });
});

describe('publicUrlProblem', () => {
  it('allows empty and http(s) addresses', () => {
    for (const u of ['', '  ', 'https://chat.example.com', 'https://chat.example.com/', 'http://10.0.0.5:8640', 'https://example.com/shop']) {
      expect(publicUrlProblem(u)).toBeNull();
    }
  });

  it('catches the usual slips', () => {
    expect(publicUrlProblem('chat.example.com')).toMatch(/^Enter a full address/);
    expect(publicUrlProblem('ftp://example.com')).toBe('The address must start with https:// or http://.');
    expect(publicUrlProblem('https://example.com/?a=1')).toMatch(/^Leave out the \?/);
    expect(publicUrlProblem('https://example.com/#top')).toMatch(/^Leave out the \?/);
    expect(publicUrlProblem('https://example.com?')).toMatch(/^Leave out the \?/);
  });
});

describe('the settings form', () => {
  it('round-trips the saved settings', () => {
    const withUrl = { ...saved, lan: true, public_url: 'https://chat.example.com' };
    expect(settingsFields(withUrl)).toEqual({
      port: '8640',
      lan: true,
      public_url: 'https://chat.example.com',
      keep_in_tray: true,
      notify_new_conversation: true,
      notify_handoff: true,
      keep_awake: false,
    });
    expect(settingsForm(settingsFields(withUrl))).toEqual(withUrl);
    expect(settingsForm(settingsFields(saved))).toEqual(saved);
  });

  it('trims, and sends a blank public URL as null', () => {
    expect(settingsForm({ port: ' 9000 ', lan: true, public_url: '  ', keep_in_tray: false, ...notify })).toEqual({
      port: 9000,
      lan: true,
      public_url: null,
      keep_in_tray: false,
      notify_new_conversation: true,
      notify_handoff: false,
      keep_awake: false,
    });
    expect(settingsForm({ port: '9000', lan: false, public_url: ' https://a.example ', keep_in_tray: true, ...notify }).public_url).toBe(
      'https://a.example',
    );
  });

  it('collects the problems by field', () => {
    expect(settingsProblems(settingsFields(saved))).toEqual({});
    expect(settingsProblems({ port: '80', lan: false, public_url: 'nope', keep_in_tray: true, ...notify })).toEqual({
      port: expect.stringMatching(/^Ports below/),
      public_url: expect.stringMatching(/^Enter a full address/),
    });
  });
});

describe('settingsDirty', () => {
  it('is clean for the saved values, whitespace and a trailing slash included', () => {
    expect(settingsDirty(saved, settingsFields(saved))).toBe(false);
    expect(settingsDirty(saved, { ...settingsFields(saved), port: ' 8640 ', public_url: '  ' })).toBe(false);
    const withUrl = { ...saved, public_url: 'https://chat.example.com' };
    expect(settingsDirty(withUrl, { ...settingsFields(withUrl), public_url: 'https://chat.example.com/' })).toBe(false);
  });

  it('sees every field', () => {
    const f = settingsFields(saved);
    expect(settingsDirty(saved, { ...f, port: '9000' })).toBe(true);
    expect(settingsDirty(saved, { ...f, port: '' })).toBe(true);
    expect(settingsDirty(saved, { ...f, port: '08640' })).toBe(true);
    expect(settingsDirty(saved, { ...f, lan: true })).toBe(true);
    expect(settingsDirty(saved, { ...f, keep_in_tray: false })).toBe(true);
    expect(settingsDirty(saved, { ...f, public_url: 'https://chat.example.com' })).toBe(true);
    expect(settingsDirty(saved, { ...f, notify_new_conversation: false })).toBe(true);
    expect(settingsDirty(saved, { ...f, notify_handoff: false })).toBe(true);
    expect(settingsDirty(saved, { ...f, keep_awake: true })).toBe(true);
  });
});

describe('after a save', () => {
  it('knows when the server moved', () => {
    expect(addressChanged(saved, saved)).toBe(false);
    expect(addressChanged(saved, { ...saved, keep_in_tray: false, public_url: 'https://a.example' })).toBe(false);
    expect(addressChanged(saved, { ...saved, notify_handoff: false, notify_new_conversation: false })).toBe(false);
    expect(addressChanged(saved, { ...saved, port: 9000 })).toBe(true);
    expect(addressChanged(saved, { ...saved, lan: true })).toBe(true);
  });

  it('says where the server is now when it moved', () => {
    expect(savedMessage(saved, { ...saved, keep_in_tray: false }, 'http://127.0.0.1:8640')).toBe('Settings saved');
    expect(savedMessage(saved, { ...saved, port: 9000 }, 'http://127.0.0.1:9000')).toBe(
      'Settings saved — the server is now at http://127.0.0.1:9000',
    );
    expect(savedMessage(saved, { ...saved, port: 9001 }, null)).toBe('Settings saved — the server is now at http://127.0.0.1:9001');
    expect(savedMessage(saved, { ...saved, lan: true }, 'http://127.0.0.1:8640', 'http://192.168.1.20:8640')).toBe(
      'Settings saved — phones on your network can reach http://192.168.1.20:8640',
    );
    // Back to this computer only: the local address, even if a LAN address was known before.
    expect(savedMessage({ ...saved, lan: true }, saved, 'http://127.0.0.1:8640', null)).toBe(
      'Settings saved — the server is now at http://127.0.0.1:8640',
    );
  });
});

describe('keeping conversations', () => {
  it('maps the select to the setting and back', () => {
    expect(retentionValue(null)).toBe('');
    expect(retentionValue(90)).toBe('90');
    expect(parseRetention('')).toBeNull();
    expect(parseRetention('30')).toBe(30);
    expect(parseRetention(' 365 ')).toBe(365);
    for (const v of [null, 1, 30, 90, 365, 3650]) expect(parseRetention(retentionValue(v))).toBe(v);
  });

  it('never sends a value the core refuses', () => {
    for (const v of ['0', '-5', '3651', '1.5', 'abc']) expect(parseRetention(v)).toBeNull();
  });

  it('offers Forever, 30, 90 and 365 days, plus a saved value that is none of them', () => {
    const usual = [
      { value: '', label: 'Forever' },
      { value: '30', label: '30 days' },
      { value: '90', label: '90 days' },
      { value: '365', label: '365 days' },
    ];
    expect(retentionOptions(null)).toEqual(usual);
    expect(retentionOptions(90)).toEqual(usual);
    expect(retentionOptions(60).map((o) => o.value)).toEqual(['', '30', '60', '90', '365']);
    expect(retentionOptions(1)).toContainEqual({ value: '1', label: '1 day' });
    expect(retentionOptions(3650).slice(-1)[0]).toEqual({ value: '3650', label: '3650 days' });
    expect(retentionLabel(7)).toBe('7 days');
  });

  it('says what happened', () => {
    expect(retentionMessage(null, 0)).toBe('Conversations are kept forever');
    expect(retentionMessage(30, 12)).toBe('Resolved conversations older than 30 days will be deleted (12 deleted now)');
    expect(retentionMessage(90, 0)).toBe('Resolved conversations older than 90 days will be deleted (0 deleted now)');
    expect(retentionMessage(1, 1)).toBe('Resolved conversations older than 1 day will be deleted (1 deleted now)');
  });
});
