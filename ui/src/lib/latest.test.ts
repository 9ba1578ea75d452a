import { describe, expect, it } from 'vitest';

import { Latest } from './latest';

describe('Latest', () => {
  it('lets only the latest lookup act, whatever order replies come in', () => {
    const latest = new Latest();
    const a = latest.start('a');
    expect(latest.current(a)).toBe(true);
    const b = latest.start('b');
    // B answers first, then A's slow reply arrives: A must not replace B.
    expect(latest.current(b)).toBe(true);
    expect(latest.current(a)).toBe(false);
  });

  it('drops a lookup whose row went away, and only that one', () => {
    const latest = new Latest();
    const a = latest.start('a');
    latest.drop('b'); // another row was dismissed
    expect(latest.current(a)).toBe(true);
    latest.drop('a');
    expect(latest.current(a)).toBe(false);
    const b = latest.start('b');
    expect(latest.current(b)).toBe(true);
  });
});
