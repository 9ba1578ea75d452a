import { describe, expect, it } from 'vitest';

import type { LinkInfo } from '../bindings/LinkInfo';
import type { LinkStatus } from '../bindings/LinkStatus';
import {
  countLive,
  dayLabel,
  fileSlug,
  fullDate,
  isoDay,
  messageTime,
  optionalText,
  parseExpiryDays,
  relativeTime,
  shortDate,
  sortLinks,
  suffixProblem,
  svgDataUrl,
  withFileExtension,
} from './format';

// Built from local components so the expectations hold in any time zone.
const local = (y: number, mo: number, d: number, h = 0, mi = 0) => new Date(y, mo - 1, d, h, mi);
const iso = (d: Date) => d.toISOString();

describe('shortDate', () => {
  const now = local(2025, 3, 12, 16, 30);

  it('says today / yesterday / tomorrow with the time', () => {
    expect(shortDate(iso(local(2025, 3, 12, 14, 5)), now)).toBe('today 14:05');
    expect(shortDate(iso(local(2025, 3, 12, 0, 0)), now)).toBe('today 00:00');
    expect(shortDate(iso(local(2025, 3, 11, 23, 59)), now)).toBe('yesterday 23:59');
    expect(shortDate(iso(local(2025, 3, 13, 9, 0)), now)).toBe('tomorrow 09:00');
  });

  it('counts days within a week', () => {
    expect(shortDate(iso(local(2025, 3, 9, 10, 0)), now)).toBe('3 days ago');
    expect(shortDate(iso(local(2025, 3, 6, 10, 0)), now)).toBe('6 days ago');
    expect(shortDate(iso(local(2025, 3, 15, 10, 0)), now)).toBe('in 3 days');
  });

  it('falls back to a date, with the year only when it differs', () => {
    expect(shortDate(iso(local(2025, 3, 5, 10, 0)), now)).toBe('5 Mar');
    expect(shortDate(iso(local(2025, 1, 1, 10, 0)), now)).toBe('1 Jan');
    expect(shortDate(iso(local(2024, 12, 31, 10, 0)), now)).toBe('31 Dec 2024');
    expect(shortDate(iso(local(2026, 6, 1, 10, 0)), now)).toBe('1 Jun 2026');
  });

  it('uses calendar days, not 24-hour spans', () => {
    const lateNight = local(2025, 3, 12, 0, 10);
    expect(shortDate(iso(local(2025, 3, 11, 23, 50)), lateNight)).toBe('yesterday 23:50');
  });

  it('survives a daylight-saving change (run with TZ=America/New_York to exercise it)', () => {
    const afterDst = local(2025, 3, 10, 0, 30); // US clocks went forward on 9 March
    expect(shortDate(iso(local(2025, 3, 9, 1, 0)), afterDst)).toBe('yesterday 01:00');
    expect(shortDate(iso(local(2025, 3, 7, 23, 0)), afterDst)).toBe('3 days ago');
  });

  it('accepts RFC 3339 with an offset', () => {
    const at = '2025-03-12T10:00:00+02:00';
    expect(shortDate(at, new Date(at))).toBe(`today ${fullDate(at).slice(11)}`);
  });

  it('shows a placeholder for missing or broken dates', () => {
    expect(shortDate(null, now)).toBe('—');
    expect(shortDate(undefined, now)).toBe('—');
    expect(shortDate('', now)).toBe('—');
    expect(shortDate('not a date', now)).toBe('—');
    expect(shortDate(null, now, 'never')).toBe('never');
  });
});

describe('fullDate', () => {
  it('formats local time as YYYY-MM-DD HH:MM', () => {
    expect(fullDate(iso(local(2025, 3, 2, 7, 4)))).toBe('2025-03-02 07:04');
    expect(fullDate(null)).toBe('');
  });
});

function link(id: number, created_at: string, status: LinkStatus = 'live'): LinkInfo {
  return {
    id,
    jid: `web:acme/s${id}`,
    folder: 'acme',
    kind: 'web',
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

describe('sortLinks', () => {
  it('puts the newest first without touching the input', () => {
    const input = [
      link(1, '2025-03-01T10:00:00Z'),
      link(2, '2025-03-03T10:00:00Z'),
      link(3, '2025-03-02T10:00:00Z'),
    ];
    expect(sortLinks(input).map((l) => l.id)).toEqual([2, 3, 1]);
    expect(input.map((l) => l.id)).toEqual([1, 2, 3]);
  });

  it('compares instants, not strings', () => {
    // 12:00+02:00 is 10:00Z, earlier than 11:00Z although it sorts later as text.
    const input = [link(1, '2025-03-01T12:00:00+02:00'), link(2, '2025-03-01T11:00:00Z')];
    expect(sortLinks(input).map((l) => l.id)).toEqual([2, 1]);
  });

  it('breaks ties by id, newest id first, and sinks bad dates', () => {
    const input = [link(5, 'garbage'), link(1, '2025-03-01T10:00:00Z'), link(2, '2025-03-01T10:00:00Z')];
    expect(sortLinks(input).map((l) => l.id)).toEqual([2, 1, 5]);
  });
});

describe('countLive', () => {
  it('counts only live links', () => {
    const t = '2025-03-01T10:00:00Z';
    expect(countLive([link(1, t), link(2, t, 'revoked'), link(3, t, 'expired'), link(4, t)])).toBe(2);
    expect(countLive([])).toBe(0);
  });
});

describe('suffixProblem', () => {
  it('accepts what the server accepts', () => {
    for (const s of ['support', 'a', '9', 'sales-2025', 'front_desk', 'x'.repeat(40), '0-_']) {
      expect(suffixProblem(s), s).toBeNull();
    }
  });

  it('rejects what the server rejects', () => {
    for (const s of ['', 'x'.repeat(41), '-lead', '_lead', 'Support', 'front desk', 'a/b', 'café', 'a.b']) {
      expect(suffixProblem(s), s).not.toBeNull();
    }
  });

  it('explains the problem', () => {
    expect(suffixProblem('-x')).toBe('Start with a letter or a digit.');
    expect(suffixProblem('Sales')).toBe('Use only lowercase letters, digits, - and _.');
    expect(suffixProblem('x'.repeat(41))).toBe('Use at most 40 characters.');
  });
});

describe('parseExpiryDays', () => {
  it('treats blank as never', () => {
    expect(parseExpiryDays('')).toEqual({ days: null });
    expect(parseExpiryDays('  ')).toEqual({ days: null });
  });

  it('accepts whole days', () => {
    expect(parseExpiryDays('1')).toEqual({ days: 1 });
    expect(parseExpiryDays(' 30 ')).toEqual({ days: 30 });
    expect(parseExpiryDays('3650')).toEqual({ days: 3650 });
  });

  it('rejects the rest', () => {
    for (const t of ['0', '-1', '1.5', 'abc', '1e3', '3651']) {
      expect('problem' in parseExpiryDays(t), t).toBe(true);
    }
  });
});

describe('optionalText', () => {
  it('maps blank to null and trims the rest', () => {
    expect(optionalText('')).toBeNull();
    expect(optionalText('   ')).toBeNull();
    expect(optionalText('  Front desk ')).toBe('Front desk');
  });
});

describe('svgDataUrl', () => {
  it('percent-encodes the document into an image URL', () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0h1v1H0z"/></svg>';
    const url = svgDataUrl(svg);
    expect(url.startsWith('data:image/svg+xml;charset=utf-8,')).toBe(true);
    expect(url).not.toMatch(/[<>"#\s]/);
    expect(decodeURIComponent(url.slice(url.indexOf(',') + 1))).toBe(svg);
  });
});

describe('relativeTime', () => {
  const now = local(2025, 3, 12, 16, 30);

  it('counts minutes, then hours within a day', () => {
    expect(relativeTime(iso(local(2025, 3, 12, 16, 30)), now)).toBe('just now');
    expect(relativeTime(new Date(now.getTime() - 59_000).toISOString(), now)).toBe('just now');
    expect(relativeTime(iso(local(2025, 3, 12, 16, 25)), now)).toBe('5 min ago');
    expect(relativeTime(iso(local(2025, 3, 12, 15, 31)), now)).toBe('59 min ago');
    expect(relativeTime(iso(local(2025, 3, 12, 13, 29)), now)).toBe('3 h ago');
    expect(relativeTime(iso(local(2025, 3, 11, 17, 0)), now)).toBe('23 h ago');
  });

  it('then calendar days and dates', () => {
    expect(relativeTime(iso(local(2025, 3, 11, 9, 0)), now)).toBe('yesterday');
    expect(relativeTime(iso(local(2025, 3, 9, 9, 0)), now)).toBe('3 days ago');
    expect(relativeTime(iso(local(2025, 3, 5, 9, 0)), now)).toBe('5 Mar');
    expect(relativeTime(iso(local(2024, 12, 31, 9, 0)), now)).toBe('31 Dec 2024');
  });

  it('treats a time slightly ahead (clock skew) as just now, and shows a placeholder for nothing', () => {
    expect(relativeTime(iso(local(2025, 3, 12, 16, 32)), now)).toBe('just now');
    expect(relativeTime(null, now)).toBe('—');
    expect(relativeTime('garbage', now)).toBe('—');
  });
});

describe('messageTime', () => {
  const now = local(2025, 3, 12, 16, 30);

  it('shows the time today, the date before, the year when it differs', () => {
    expect(messageTime(iso(local(2025, 3, 12, 9, 5)), now)).toBe('09:05');
    expect(messageTime(iso(local(2025, 3, 11, 23, 59)), now)).toBe('11 Mar 23:59');
    expect(messageTime(iso(local(2024, 12, 31, 8, 0)), now)).toBe('31 Dec 2024 08:00');
    expect(messageTime(null, now)).toBe('');
  });
});

describe('days', () => {
  it('writes a local day as YYYY-MM-DD', () => {
    expect(isoDay(local(2025, 3, 1, 23, 59))).toBe('2025-03-01');
    expect(isoDay(local(2024, 12, 31, 0, 0))).toBe('2024-12-31');
  });

  it('labels a YYYY-MM-DD day without time zones getting in the way', () => {
    expect(dayLabel('2025-03-01')).toBe('1 Mar');
    expect(dayLabel('2024-12-31', true)).toBe('31 Dec 2024');
    expect(dayLabel('2025-13-01')).toBeNull();
    expect(dayLabel('March 1')).toBeNull();
  });
});

describe('file names', () => {
  it('keeps only [a-z0-9-]', () => {
    expect(fileSlug('web:Demo/Flyer 2025')).toBe('web-demo-flyer-2025');
    expect(fileSlug('::/')).toBe('');
  });

  it('adds the fallback extension unless one of the allowed ones is there', () => {
    expect(withFileExtension('/a/b.CSV', ['csv', 'json'], 'csv')).toBe('/a/b.CSV');
    expect(withFileExtension('/a/b', ['csv', 'json'], 'json')).toBe('/a/b.json');
    expect(withFileExtension('/a.json/b', ['csv', 'json'], 'csv')).toBe('/a.json/b.csv');
  });
});
