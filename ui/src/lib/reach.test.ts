import { describe, expect, it } from 'vitest';

import type { ReachCheck } from '../bindings/ReachCheck';
import type { TunnelStatus } from '../bindings/TunnelStatus';
import { ago, changesEveryStart, checkLine, tunnelLine } from './reach';

describe('ago', () => {
  const now = 1_750_000_000_000;
  it('counts minutes, hours and days, singular and plural', () => {
    expect(ago(now - 20_000, now)).toBe('just now');
    expect(ago(now - 60_000, now)).toBe('1 minute ago');
    expect(ago(now - 5 * 60_000, now)).toBe('5 minutes ago');
    expect(ago(now - 60 * 60_000, now)).toBe('1 hour ago');
    expect(ago(now - 3 * 24 * 60 * 60_000, now)).toBe('3 days ago');
    // A clock that moved back is not "in the future".
    expect(ago(now + 60_000, now)).toBe('just now');
  });
});

describe('checkLine', () => {
  it('says the check ran from this computer, and when', () => {
    const check: ReachCheck = {
      url: 'https://a.trycloudflare.com',
      audience: 'internet',
      checked_at: 1_000,
      works: true,
      streams: true,
      problem: null,
      message: 'works through your public address',
    };
    expect(checkLine(check, 1_000 + 2 * 60_000)).toBe('Works through your public address (checked from this computer 2 minutes ago).');
  });
});

describe('tunnelLine', () => {
  const base = { choice: { kind: 'cloudflared', program: null, named: null }, pid: 7, starts: 1 } as const;
  it('names the tool and its state', () => {
    const up: TunnelStatus = { ...base, state: 'up', url: 'https://a.trycloudflare.com' };
    expect(tunnelLine(up)).toBe('Cloudflare quick tunnel: running at https://a.trycloudflare.com');
    expect(changesEveryStart(up)).toBe(true);
    const retrying: TunnelStatus = { ...base, state: 'retrying', reason: 'it exited (signal: 9)', retry_in_secs: 2 };
    expect(tunnelLine(retrying)).toBe('Cloudflare quick tunnel stopped (it exited (signal: 9)); starting again in 2 s');
    const funnel: TunnelStatus = { ...base, choice: { kind: 'tailscale', program: null, named: null }, state: 'starting' };
    expect(tunnelLine(funnel)).toBe('Tailscale Funnel: starting…');
    expect(changesEveryStart(funnel)).toBe(false);
  });
});
