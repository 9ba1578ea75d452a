// The Look panel's form and preview logic, apart from Svelte so it can be tested. The readable
// palette itself is computed in the core (`preview_look`); this only lays it out.

import type { Lang } from '../bindings/Lang';
import type { Look } from '../bindings/Look';
import type { Palette } from '../bindings/Palette';
import type { Side } from '../bindings/Side';

/** The accent every agent starts with (the core's `brand::DEFAULT_ACCENT`). */
export const DEFAULT_ACCENT = '#1d4ed8';

export type LookFields = {
  accent: string;
  title: string;
  side: Side;
  launcher: string;
  language: Lang;
};

export function emptyLook(look?: Look): LookFields {
  return {
    accent: look?.accent ?? DEFAULT_ACCENT,
    title: look?.title ?? '',
    side: look?.side ?? 'right',
    launcher: look?.launcher ?? '',
    language: look?.language ?? 'en',
  };
}

/** The look the form describes; blank texts are none, so the agent's name is the title. */
export function lookOf(f: LookFields, logo: string | null): Look {
  const text = (s: string) => (s.trim() === '' ? null : s.trim());
  return {
    accent: f.accent.toLowerCase(),
    logo,
    title: text(f.title),
    side: f.side,
    launcher: text(f.launcher),
    language: f.language,
  };
}

/** Whether `next` differs from what is saved (the defaults count as what they stand for). */
export function lookEdits(saved: Look, next: Look): boolean {
  const a = lookOf(emptyLook(saved), saved.logo);
  return JSON.stringify(a) !== JSON.stringify(next);
}

export type PreviewColours = {
  page: string;
  surface: string;
  agent: string;
  text: string;
  accent: string;
  onAccent: string;
  link: string;
};

/** The chat page's colours in either theme, as chat.css lays them out. */
export function previewColours(p: Palette, dark: boolean): PreviewColours {
  return dark
    ? { page: '#121417', surface: '#1b1e22', agent: '#23272d', text: '#e8eaed', accent: p.accent_dark, onAccent: p.on_accent_dark, link: p.accent_dark }
    : { page: '#f5f6f8', surface: '#ffffff', agent: '#ffffff', text: '#1a1c1f', accent: p.accent, onAccent: p.on_accent, link: p.accent };
}

/** A widget app's override form: every part may be left to the agent. */
export type AppLookFields = {
  ownColour: boolean;
  accent: string;
  title: string;
  side: '' | Side;
  launcher: string;
};

export function appLookFields(look: Look, agentAccent: string = DEFAULT_ACCENT): AppLookFields {
  return {
    ownColour: look.accent !== null,
    accent: look.accent ?? agentAccent,
    title: look.title ?? '',
    side: look.side ?? '',
    launcher: look.launcher ?? '',
  };
}

/** The overrides the form describes. The logo and language are not offered per website, so
 * whatever is saved for them is kept. */
export function appLookOf(f: AppLookFields, saved: Look | null): Look {
  const text = (s: string) => (s.trim() === '' ? null : s.trim());
  return {
    accent: f.ownColour ? f.accent.toLowerCase() : null,
    logo: saved?.logo ?? null,
    title: text(f.title),
    side: f.side === '' ? null : f.side,
    launcher: text(f.launcher),
    language: saved?.language ?? null,
  };
}
