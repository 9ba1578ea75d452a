export type Screen = 'home' | 'links';

export const SCREENS: { id: Screen; label: string }[] = [
  { id: 'home', label: 'Home' },
  { id: 'links', label: 'Links' },
];
