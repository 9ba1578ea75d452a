import { describe, expect, it } from 'vitest';

import { appLookFields, appLookOf, DEFAULT_ACCENT, emptyLook, lookEdits, lookOf, previewColours } from './look';

const palette = { accent: '#7a6f00', on_accent: '#ffffff', accent_dark: '#ffee00', on_accent_dark: '#111316', adjusted: true };

describe('the look form', () => {
  it('starts from the saved look or the defaults', () => {
    expect(emptyLook()).toEqual({ accent: DEFAULT_ACCENT, title: '', side: 'right', launcher: '', language: 'en' });
    const saved = { accent: '#ffee00', logo: 'ab', title: 'Rosie', side: 'left', launcher: 'Chat', language: 'de' } as const;
    expect(lookOf(emptyLook(saved), saved.logo)).toEqual(saved);
  });

  it('stores blank texts as none and trims the rest', () => {
    const look = lookOf({ accent: '#FFEE00', title: '  ', side: 'right', launcher: ' Chat with us ', language: 'fr' }, null);
    expect(look).toEqual({ accent: '#ffee00', logo: null, title: null, side: 'right', launcher: 'Chat with us', language: 'fr' });
  });

  it('sees no edit in an untouched default look, and sees a changed colour', () => {
    const none = { accent: null, logo: null, title: null, side: null, launcher: null, language: null };
    expect(lookEdits(none, lookOf(emptyLook(none), null))).toBe(false);
    expect(lookEdits(none, lookOf({ ...emptyLook(none), accent: '#ff0000' }, null))).toBe(true);
  });

  it('previews each theme with its own readable pair', () => {
    expect(previewColours(palette, false)).toMatchObject({ accent: '#7a6f00', onAccent: '#ffffff', page: '#f5f6f8' });
    expect(previewColours(palette, true)).toMatchObject({ accent: '#ffee00', onAccent: '#111316', agent: '#23272d' });
  });
});

describe("a website's own look", () => {
  const none = { accent: null, logo: null, title: null, side: null, launcher: null, language: null };

  it('leaves every part to the agent when nothing is set', () => {
    const f = appLookFields(none, '#7a4b2a');
    expect(f).toEqual({ ownColour: false, accent: '#7a4b2a', title: '', side: '', launcher: '' });
    expect(appLookOf(f, none)).toEqual(none);
  });

  it('sends only what the owner set, and a colour only when asked for', () => {
    const f = { ownColour: false, accent: '#FF0000', title: " Rosie's shop ", side: 'left', launcher: '  ' } as const;
    expect(appLookOf(f, none)).toEqual({ ...none, title: "Rosie's shop", side: 'left' });
    expect(appLookOf({ ...f, ownColour: true }, none).accent).toBe('#ff0000');
  });

  it('keeps a saved logo and language it does not offer', () => {
    const saved = { ...none, logo: 'ab12', language: 'de' } as const;
    expect(appLookOf(appLookFields(saved), saved)).toEqual(saved);
  });
});
