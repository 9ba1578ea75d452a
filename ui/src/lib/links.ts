// Row-level vocabulary shared by the Links screen and its row component.

export type LinkAction = 'copy' | 'open' | 'qr' | 'revoke' | 'reissue';
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
