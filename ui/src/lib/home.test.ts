import { describe, expect, it } from 'vitest';

import type { LinkInfo } from '../bindings/LinkInfo';
import type { LinkStatus } from '../bindings/LinkStatus';
import type { TokenKind } from '../bindings/TokenKind';
import { localMidnight, newestLiveWebLink } from './home';

describe('localMidnight', () => {
  it("is the start of the owner's local day", () => {
    const now = new Date(2025, 2, 12, 16, 30, 15, 250);
    expect(localMidnight(now)).toBe(new Date(2025, 2, 12).getTime());
    const m = new Date(localMidnight(now));
    expect([m.getFullYear(), m.getMonth(), m.getDate(), m.getHours(), m.getMinutes(), m.getSeconds(), m.getMilliseconds()]).toEqual([
      2025, 2, 12, 0, 0, 0, 0,
    ]);
  });

  it('keeps midnight itself and does not touch its argument', () => {
    const midnight = new Date(2025, 0, 1);
    expect(localMidnight(midnight)).toBe(midnight.getTime());
    const late = new Date(2024, 11, 31, 23, 59, 59, 999);
    const before = late.getTime();
    expect(localMidnight(late)).toBe(new Date(2024, 11, 31).getTime());
    expect(late.getTime()).toBe(before);
  });

  it('survives a daylight-saving day (run with TZ=Europe/Berlin to exercise it)', () => {
    expect(localMidnight(new Date(2025, 2, 30, 12, 0))).toBe(new Date(2025, 2, 30).getTime());
    expect(localMidnight(new Date(2025, 9, 26, 23, 0))).toBe(new Date(2025, 9, 26).getTime());
  });

  it('defaults to now', () => {
    const m = localMidnight();
    expect(Date.now() - m).toBeGreaterThanOrEqual(0);
    expect(Date.now() - m).toBeLessThan(25 * 60 * 60 * 1000);
  });
});

function link(id: number, created_at: string, status: LinkStatus = 'live', kind: TokenKind = 'web'): LinkInfo {
  return {
    id,
    jid: `${kind}:acme/s${id}`,
    folder: 'acme',
    kind,
    suffix: `s${id}`,
    source: null,
    label: null,
    status,
    created_at,
    expires_at: null,
    revoked_at: null,
    last_used_at: null,
    messages: 0,
    origins: [],
  };
}

describe('newestLiveWebLink', () => {
  it('picks the newest live web link', () => {
    const links = [
      link(1, '2025-03-01T10:00:00Z'),
      link(2, '2025-03-05T10:00:00Z', 'revoked'),
      link(3, '2025-03-04T10:00:00Z', 'live', 'hook'),
      link(4, '2025-03-03T10:00:00Z'),
      link(5, '2025-03-06T10:00:00Z', 'expired'),
    ];
    expect(newestLiveWebLink(links)?.id).toBe(4);
  });

  it('breaks a same-second tie by the larger id', () => {
    expect(newestLiveWebLink([link(7, '2025-03-01T10:00:00Z'), link(8, '2025-03-01T10:00:00Z')])?.id).toBe(8);
  });

  it('is null without one', () => {
    expect(newestLiveWebLink([])).toBeNull();
    expect(newestLiveWebLink([link(1, '2025-03-01T10:00:00Z', 'revoked'), link(2, '2025-03-01T10:00:00Z', 'live', 'hook')])).toBeNull();
  });
});
