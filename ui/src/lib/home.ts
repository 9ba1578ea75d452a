// Pure helpers behind Home: the start of the owner's day for the counts, and which link the
// LAN QR code shows.

import type { LinkInfo } from '../bindings/LinkInfo';
import { sortLinks } from './format';

/** The owner's local midnight of `now`, in ms since the epoch: `overview`'s `since`. Only the
 * window knows the owner's time zone, so the day starts here, not on the server. */
export function localMidnight(now: Date = new Date()): number {
  const d = new Date(now.getTime());
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** The newest live `web` link (the one a phone can open in a browser), or null. */
export function newestLiveWebLink(links: readonly LinkInfo[]): LinkInfo | null {
  return sortLinks(links.filter((l) => l.status === 'live' && l.kind === 'web'))[0] ?? null;
}
