export type Screen = 'home' | 'links' | 'agents' | 'widget' | 'settings';

export const SCREENS: { id: Screen; label: string }[] = [
  { id: 'home', label: 'Home' },
  { id: 'links', label: 'Links' },
  { id: 'agents', label: 'Agents' },
  { id: 'widget', label: 'Widget' },
  { id: 'settings', label: 'Settings' },
];
