// Overlapping lookups (two quick clicks, one slow reply): only the latest may act on its reply.
// No DOM, no Tauri, so vitest can pin it down.

/** Tickets for lookups started by key; a reply acts only while its ticket is current. */
export class Latest {
  #ticket = 0;
  #key: string | null = null;

  /** A lookup for `key` starts: every earlier ticket is stale from now on. */
  start(key: string): number {
    this.#key = key;
    return ++this.#ticket;
  }

  /** Whether the reply of `ticket` may act (nothing started or dropped since). */
  current(ticket: number): boolean {
    return ticket === this.#ticket;
  }

  /** Drops the lookup for `key`, if it is the one in flight (its row went away). */
  drop(key: string): void {
    if (this.#key === key) {
      this.#key = null;
      this.#ticket++;
    }
  }
}
