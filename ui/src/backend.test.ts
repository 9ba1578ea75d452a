import { describe, expect, it } from 'vitest';

import { errorCode, errorMessage } from './backend';

describe('errorMessage', () => {
  it("shows a CommandError's own message", () => {
    expect(errorMessage({ code: 'not_found', message: 'No such link.' })).toBe('No such link.');
    expect(errorCode({ code: 'not_found', message: 'No such link.' })).toBe('not_found');
  });

  it('hides anything else behind a generic sentence', () => {
    const generic = 'Something went wrong. Please try again.';
    for (const e of [new TypeError('x is undefined'), 'command list_links not found', null, undefined, 42, { message: 'no code' }, { code: 'x', message: '  ' }]) {
      expect(errorMessage(e)).toBe(generic);
    }
    expect(errorCode('boom')).toBeNull();
  });
});
