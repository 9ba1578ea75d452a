// The activity chart's layout, worked out here so the component only draws it: one bar per day
// for conversations started and a line for visitor messages, on one shared scale, plus the
// words around it (axis labels, the accessible title and description, each day's tooltip).

import type { DayActivity } from '../bindings/DayActivity';
import { dayLabel } from './format';

/** How many days the charts cover (today included). */
export const CHART_DAYS = 30;

/** The owner's offset from UTC in minutes, east positive, as `activity` takes it. */
export function utcOffsetMinutes(now: Date = new Date()): number {
  const offset = -now.getTimezoneOffset();
  return offset === 0 ? 0 : offset; // never -0
}

/** The viewBox is `days × SLOT` wide and HEIGHT tall; the SVG stretches it to its box
 * (`preserveAspectRatio="none"`), so the text lives outside it, in HTML. */
export const SLOT = 10;
export const HEIGHT = 100;
/** Room above the highest value, so the line's stroke is not cut. */
export const TOP = 4;
/** A bar's share of its slot. */
export const BAR_RATIO = 0.7;
/** A day with any conversation gets at least this height, so it never looks like none. */
export const MIN_BAR = 1.5;

export type ChartBar = {
  date: string;
  conversations: number;
  messages: number;
  /** The day's slot (for the tooltip's hover area). */
  slotX: number;
  x: number;
  y: number;
  width: number;
  height: number;
  /** "12 Mar: 3 conversations, 10 visitor messages". */
  title: string;
};

export type ChartLayout = {
  width: number;
  height: number;
  bars: ChartBar[];
  /** The messages line as `<polyline points>`: "x,y x,y …". */
  line: string;
  /** The top of the scale: the highest day of either series (1 when all are zero). */
  max: number;
  empty: boolean;
  totals: { conversations: number; messages: number };
  firstLabel: string;
  lastLabel: string;
  maxLabel: string;
  title: string;
  desc: string;
};

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

// Rounded so the SVG attributes stay short and the tests exact.
function round(n: number): number {
  return Math.round(n * 100) / 100;
}

export function chartLayout(days: readonly DayActivity[], title = `Activity, last ${CHART_DAYS} days`): ChartLayout {
  const n = days.length;
  const highest = days.reduce((m, d) => Math.max(m, d.conversations, d.messages), 0);
  const max = Math.max(1, highest);
  const plot = HEIGHT - TOP;
  const y = (v: number) => round(HEIGHT - (v / max) * plot);
  const barWidth = round(SLOT * BAR_RATIO);

  const bars: ChartBar[] = days.map((d, i) => {
    const raw = (d.conversations / max) * plot;
    const height = round(d.conversations > 0 ? Math.max(MIN_BAR, raw) : 0);
    const label = dayLabel(d.date) ?? d.date;
    return {
      date: d.date,
      conversations: d.conversations,
      messages: d.messages,
      slotX: i * SLOT,
      x: round(i * SLOT + (SLOT - barWidth) / 2),
      y: round(HEIGHT - height),
      width: barWidth,
      height,
      title: `${label}: ${plural(d.conversations, 'conversation', 'conversations')}, ${plural(d.messages, 'visitor message', 'visitor messages')}`,
    };
  });
  const line = days.map((d, i) => `${round(i * SLOT + SLOT / 2)},${y(d.messages)}`).join(' ');

  const totals = days.reduce(
    (t, d) => ({ conversations: t.conversations + d.conversations, messages: t.messages + d.messages }),
    { conversations: 0, messages: 0 },
  );
  const first = days[0]?.date ?? '';
  const last = days[n - 1]?.date ?? '';
  // The year only when the range spans two of them (the chart crosses New Year).
  const withYear = first.slice(0, 4) !== last.slice(0, 4);
  const firstLabel = dayLabel(first, withYear) ?? first;
  const lastLabel = dayLabel(last, withYear) ?? last;
  const empty = highest === 0;

  let desc: string;
  if (n === 0) {
    desc = 'No days to show.';
  } else if (empty) {
    desc = `No conversations or visitor messages from ${firstLabel} to ${lastLabel}.`;
  } else {
    // The first of the busiest days, by conversations started.
    const busiest = days.reduce((b, d) => (d.conversations > b.conversations ? d : b), days[0]);
    desc =
      `From ${firstLabel} to ${lastLabel}: ${plural(totals.conversations, 'conversation', 'conversations')} and ` +
      `${plural(totals.messages, 'visitor message', 'visitor messages')} in all.` +
      (busiest.conversations > 0
        ? ` The busiest day was ${dayLabel(busiest.date) ?? busiest.date}, with ${plural(busiest.conversations, 'conversation', 'conversations')}.`
        : '');
  }

  return {
    width: n * SLOT,
    height: HEIGHT,
    bars,
    line,
    max,
    empty,
    totals,
    firstLabel,
    lastLabel,
    maxLabel: String(max),
    title,
    desc,
  };
}
