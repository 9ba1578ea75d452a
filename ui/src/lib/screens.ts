export type Screen = 'home' | 'links' | 'agents' | 'widget';

export const SCREENS: { id: Screen; label: string }[] = [
  { id: 'home', label: 'Home' },
  { id: 'links', label: 'Links' },
  { id: 'agents', label: 'Agents' },
  { id: 'widget', label: 'Widget' },
];
