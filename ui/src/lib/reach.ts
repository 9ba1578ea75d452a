// Pure helpers behind Home's "who can open your links" panel: the audience in plain words, how
// long ago the address was checked, and what each tunnel state means.

import type { Audience } from '../bindings/Audience';
import type { ReachCheck } from '../bindings/ReachCheck';
import type { TunnelStatus } from '../bindings/TunnelStatus';

export const AUDIENCE: Record<Audience, string> = {
  this_computer: 'Only this computer',
  this_network: 'Phones and computers on this Wi-Fi',
  internet: 'Anyone on the internet',
};

/** "just now", "5 minutes ago", "2 hours ago", "3 days ago". */
export function ago(then: number, now: number = Date.now()): string {
  const minutes = Math.floor(Math.max(0, now - then) / 60_000);
  if (minutes < 1) return 'just now';
  if (minutes < 60) return minutes === 1 ? '1 minute ago' : `${minutes} minutes ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return hours === 1 ? '1 hour ago' : `${hours} hours ago`;
  const days = Math.floor(hours / 24);
  return days === 1 ? '1 day ago' : `${days} days ago`;
}

/** The check's sentence, with where and when it ran: it is run from this computer, which
 * proves the route but not every network outside. */
export function checkLine(check: ReachCheck, now: number = Date.now()): string {
  const text = check.message[0].toUpperCase() + check.message.slice(1);
  return `${text} (checked from this computer ${ago(check.checked_at, now)}).`;
}

/** One line on the running tunnel. */
export function tunnelLine(t: TunnelStatus): string {
  const tool = t.choice.kind === 'cloudflared' ? (t.choice.named ? 'Cloudflare named tunnel' : 'Cloudflare quick tunnel')
    : t.choice.kind === 'tailscale' ? 'Tailscale Funnel' : 'ngrok';
  switch (t.state) {
    case 'starting':
      return `${tool}: starting…`;
    case 'up':
      return `${tool}: running at ${t.url}`;
    case 'retrying':
      return `${tool} stopped (${t.reason}); starting again in ${t.retry_in_secs} s`;
    case 'stopped':
      return `${tool}: stopped`;
  }
}

/** Whether the running tunnel's address changes every time it starts (a quick tunnel). */
export function changesEveryStart(t: TunnelStatus): boolean {
  return t.choice.kind === 'cloudflared' && !t.choice.named;
}
