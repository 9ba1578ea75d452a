// Row-level vocabulary shared by the Links screen and its row component.

import type { DayActivity } from '../bindings/DayActivity';
import { fileSlug, withFileExtension } from './format';

export type LinkAction = 'copy' | 'open' | 'preview' | 'qr' | 'copy-qr' | 'save-qr' | 'pause' | 'resume' | 'revoke' | 'reissue';
export type ConfirmAction = 'revoke' | 'reissue';

/** The confirmations, word for word: the owner must know what the visitor will see. */
export const CONFIRM_TEXT: Record<ConfirmAction, string> = {
  revoke:
    'Revoke this link? The next visitor who opens it gets an error (401), and any open chat on it stops. This cannot be undone; you can issue a new link.',
  reissue: 'Reissue this link? The old URL stops working; the new one reaches the same place.',
};

export function busyKey(id: number, action: LinkAction): string {
  return `${id}:${action}`;
}

/** A link's QR image, fetched once when first shown (a link's URL never changes). */
export type QrState = { src: string } | { error: string } | { loading: true };

/** A link's activity chart, fetched each time its panel opens (the counts change). */
export type ActivityState = { days: DayActivity[] } | { error: string } | { loading: true };

/** The save dialog's suggested name: `web:demo/flyer` -> `chatlink-web-demo-flyer-qr.png`.
 * The name part is only `[a-z0-9-]`, so it is a safe file name on every desktop. */
export function qrFileName(jid: string): string {
  const slug = fileSlug(jid);
  return slug ? `chatlink-${slug}-qr.png` : 'chatlink-qr.png';
}

/** The save path with a format the Rust side accepts: a file name that does not end in
 * `.png` or `.svg` (any case, with a name before the dot) gets `.png`. Only the last path
 * segment counts (after the last slash or backslash), so a dotted folder is not an extension. */
export function withQrExtension(path: string): string {
  return withFileExtension(path, ['png', 'svg'], 'png');
}

/** The websites the owner typed, one per line (commas too); blank lines dropped. The core
 * checks and normalises each. */
export function originLines(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
