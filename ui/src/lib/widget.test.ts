import { describe, expect, it } from 'vitest';

import {
  MAX_ORIGINS,
  originsLabel,
  originsProblem,
  originsText,
  parseOrigins,
  parseTtlMinutes,
  ttlLabel,
  widgetBusyKey,
} from './widget';

describe('parseOrigins', () => {
  it('trims, drops blanks and keeps the order', () => {
    expect(parseOrigins('')).toEqual([]);
    expect(parseOrigins('  \n\n \t ')).toEqual([]);
    expect(parseOrigins('  https://shop.example  \n\nhttp://localhost:3000\n')).toEqual([
      'https://shop.example',
      'http://localhost:3000',
    ]);
  });

  it('accepts any line ending', () => {
    expect(parseOrigins('https://a.example\r\nhttps://b.example\rhttps://c.example')).toEqual([
      'https://a.example',
      'https://b.example',
      'https://c.example',
    ]);
  });

  it('drops repeats, first spelling wins (case and a trailing slash do not count)', () => {
    expect(parseOrigins('https://shop.example\nhttps://shop.example\n https://Shop.Example/ \nhttps://www.shop.example')).toEqual([
      'https://shop.example',
      'https://www.shop.example',
    ]);
  });

  it('round-trips a saved list', () => {
    const saved = ['https://shop.example', 'http://localhost:3000'];
    expect(parseOrigins(originsText(saved))).toEqual(saved);
    expect(originsText([])).toBe('');
  });
});

describe('originsProblem', () => {
  it('accepts origins the server accepts', () => {
    expect(originsProblem([])).toBeNull();
    expect(
      originsProblem(['https://shop.example', 'http://localhost:3000', 'https://Shop.Example:443/', 'http://127.0.0.1:8080', 'http://[::1]:3000']),
    ).toBeNull();
  });

  it('catches the usual slips', () => {
    expect(originsProblem(['shop.example'])).toMatch(/needs http:\/\/ or https:\/\//);
    expect(originsProblem(['ftp://shop.example'])).toMatch(/needs http/);
    for (const o of ['https://shop.example/page', 'https://shop.example?x=1', 'https://shop.example#top', 'https://', 'https://shop example']) {
      expect(originsProblem([o]), o).toMatch(/is not an origin/);
    }
  });

  it('names the first bad line', () => {
    expect(originsProblem(['https://ok.example', 'https://bad.example/path'])).toContain('https://bad.example/path');
  });

  it('limits the count', () => {
    const many = Array.from({ length: MAX_ORIGINS + 1 }, (_, i) => `https://s${i}.example`);
    expect(originsProblem(many.slice(0, MAX_ORIGINS))).toBeNull();
    expect(originsProblem(many)).toBe('List at most 20 websites.');
  });
});

describe('originsLabel', () => {
  it('says "Any website" for an empty list', () => {
    expect(originsLabel([])).toBe('Any website');
    expect(originsLabel(['https://a.example', 'https://b.example'])).toBe('https://a.example, https://b.example');
  });
});

describe('parseTtlMinutes', () => {
  it('treats blank as the default', () => {
    expect(parseTtlMinutes('')).toEqual({ minutes: null });
    expect(parseTtlMinutes('  ')).toEqual({ minutes: null });
  });

  it('accepts 1 to 1440 whole minutes', () => {
    expect(parseTtlMinutes('15')).toEqual({ minutes: 15 });
    expect(parseTtlMinutes(' 1 ')).toEqual({ minutes: 1 });
    expect(parseTtlMinutes('1440')).toEqual({ minutes: 1440 });
  });

  it('rejects the rest', () => {
    for (const t of ['0', '-5', '1.5', 'ten', '1e2', '1441']) {
      expect('problem' in parseTtlMinutes(t), t).toBe(true);
    }
  });
});

describe('ttlLabel', () => {
  it('reads like a person would say it', () => {
    expect(ttlLabel(900)).toBe('15 min');
    expect(ttlLabel(60)).toBe('1 min');
    expect(ttlLabel(3600)).toBe('1 h');
    expect(ttlLabel(5400)).toBe('1 h 30 min');
    expect(ttlLabel(86400)).toBe('24 h');
    expect(ttlLabel(45)).toBe('45 s');
    expect(ttlLabel(90)).toBe('1 min 30 s');
    expect(ttlLabel(0)).toBe('—');
  });
});

describe('widgetBusyKey', () => {
  it('keeps apps and actions apart', () => {
    expect(widgetBusyKey('app_1', 'reveal')).not.toBe(widgetBusyKey('app_2', 'reveal'));
    expect(widgetBusyKey('app_1', 'reveal')).not.toBe(widgetBusyKey('app_1', 'rotate'));
  });
});
