import { describe, expect, it } from 'vitest';

import type { DayActivity } from '../bindings/DayActivity';
import { BAR_RATIO, chartLayout, HEIGHT, MIN_BAR, SLOT, TOP, utcOffsetMinutes } from './chart';

function month(values: [number, number][], start = '2025-03-'): DayActivity[] {
  return values.map(([conversations, messages], i) => ({
    date: `${start}${String(i + 1).padStart(2, '0')}`,
    conversations,
    messages,
  }));
}

describe('utcOffsetMinutes', () => {
  it('is east positive, the opposite of getTimezoneOffset, and never -0', () => {
    const d = new Date(2025, 2, 12);
    expect(utcOffsetMinutes(d)).toBe(-d.getTimezoneOffset() || 0);
    expect(Object.is(utcOffsetMinutes({ getTimezoneOffset: () => 0 } as Date), -0)).toBe(false);
    expect(utcOffsetMinutes({ getTimezoneOffset: () => -60 } as Date)).toBe(60);
    expect(utcOffsetMinutes({ getTimezoneOffset: () => 300 } as Date)).toBe(-300);
  });
});

describe('chartLayout', () => {
  const days = month([
    [2, 5],
    [0, 0],
    [4, 10],
  ]);
  const layout = chartLayout(days, 'Last 3 days');

  it('gives each day a slot and scales to the busiest value of either series', () => {
    expect(layout.width).toBe(3 * SLOT);
    expect(layout.height).toBe(HEIGHT);
    expect(layout.max).toBe(10);
    expect(layout.maxLabel).toBe('10');
    expect(layout.empty).toBe(false);
    const plot = HEIGHT - TOP;
    const [a, b, c] = layout.bars;
    expect(a.width).toBe(SLOT * BAR_RATIO);
    expect(a.x).toBeCloseTo((SLOT - SLOT * BAR_RATIO) / 2);
    expect(c.x).toBeCloseTo(2 * SLOT + (SLOT - SLOT * BAR_RATIO) / 2);
    expect(a.height).toBeCloseTo((2 / 10) * plot);
    expect(a.y + a.height).toBeCloseTo(HEIGHT);
    expect(c.height).toBeCloseTo((4 / 10) * plot);
    expect(b.height).toBe(0);
    expect(layout.bars.map((x) => x.slotX)).toEqual([0, SLOT, 2 * SLOT]);
  });

  it('draws the messages as a line through the middle of each slot', () => {
    expect(layout.line).toBe(`5,${HEIGHT - (5 / 10) * (HEIGHT - TOP)} 15,${HEIGHT} 25,${TOP}`);
  });

  it('keeps a small day visible', () => {
    const l = chartLayout(month([[1, 0], [0, 500]]));
    expect(l.bars[0].height).toBe(MIN_BAR);
    expect(l.bars[0].y).toBe(HEIGHT - MIN_BAR);
  });

  it('labels the axes and every day', () => {
    expect(layout.firstLabel).toBe('1 Mar');
    expect(layout.lastLabel).toBe('3 Mar');
    expect(layout.bars[0].title).toBe('1 Mar: 2 conversations, 5 visitor messages');
    expect(chartLayout(month([[1, 1]])).bars[0].title).toBe('1 Mar: 1 conversation, 1 visitor message');
    expect(layout.bars[1].title).toBe('2 Mar: 0 conversations, 0 visitor messages');
  });

  it('adds the years when the range crosses New Year', () => {
    const l = chartLayout([
      { date: '2024-12-31', conversations: 1, messages: 1 },
      { date: '2025-01-01', conversations: 0, messages: 0 },
    ]);
    expect([l.firstLabel, l.lastLabel]).toEqual(['31 Dec 2024', '1 Jan 2025']);
  });

  it('describes itself for screen readers', () => {
    expect(layout.title).toBe('Last 3 days');
    expect(layout.totals).toEqual({ conversations: 6, messages: 15 });
    expect(layout.desc).toBe(
      'From 1 Mar to 3 Mar: 6 conversations and 15 visitor messages in all. The busiest day was 3 Mar, with 4 conversations.',
    );
    expect(chartLayout(month([[0, 3]])).desc).toBe('From 1 Mar to 1 Mar: 0 conversations and 3 visitor messages in all.');
    expect(chartLayout(month([[1, 1]])).title).toBe('Activity, last 30 days');
  });

  it('is empty when every day is zero, without dividing by zero', () => {
    const quiet = chartLayout(month(Array.from({ length: 30 }, () => [0, 0] as [number, number])));
    expect(quiet.empty).toBe(true);
    expect(quiet.max).toBe(1);
    expect(quiet.width).toBe(30 * SLOT);
    expect(quiet.bars.every((b) => b.height === 0)).toBe(true);
    expect(quiet.line).not.toMatch(/NaN|Infinity/);
    expect(quiet.desc).toBe('No conversations or visitor messages from 1 Mar to 30 Mar.');
  });

  it('copes with no days at all', () => {
    const none = chartLayout([]);
    expect(none).toMatchObject({ width: 0, bars: [], line: '', empty: true, desc: 'No days to show.' });
  });
});
