// One status line for the whole window: every action reports here, so feedback looks and
// sounds (aria-live) the same everywhere.

export type ToastKind = 'ok' | 'error';

export const toast = $state({ text: '', kind: 'ok' as ToastKind, seq: 0 });

let timer: ReturnType<typeof setTimeout> | undefined;

export function notify(text: string, kind: ToastKind = 'ok'): void {
  toast.text = text;
  toast.kind = kind;
  // A new seq re-triggers the entry animation when the same text ("Copied!") repeats.
  toast.seq += 1;
  clearTimeout(timer);
  // Errors stay longer: they are read, not glanced at.
  timer = setTimeout(dismiss, kind === 'error' ? 8000 : 2500);
}

export function dismiss(): void {
  clearTimeout(timer);
  toast.text = '';
}
