import type { StateFilter } from './inbox';

export type Screen = 'home' | 'inbox' | 'links' | 'agents' | 'widget' | 'settings';

export const SCREENS: { id: Screen; label: string }[] = [
  { id: 'home', label: 'Home' },
  { id: 'inbox', label: 'Inbox' },
  { id: 'links', label: 'Links' },
  { id: 'agents', label: 'Agents' },
  { id: 'widget', label: 'Widget' },
  { id: 'settings', label: 'Settings' },
];

/** Where the Inbox opens when another screen sends the owner there: a state filter (Home's
 * "waiting for you" count) and/or one conversation to show. */
export type InboxTarget = { state?: StateFilter; conversation?: string };

/** How screens ask to move: `navigate('inbox', { state: 'handoff' })`. */
export type Navigate = (screen: Screen, target?: InboxTarget) => void;
