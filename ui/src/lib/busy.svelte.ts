import { SvelteSet } from 'svelte/reactivity';

import { errorMessage } from '../backend';
import { notify } from './toast.svelte';

/**
 * Which actions are in flight, by key (e.g. `12:revoke`). Each working button shows its own
 * busy state while the rest of the window stays usable, and a second click on a busy action
 * is ignored instead of sending the command twice.
 */
export class Busy {
  #keys = new SvelteSet<string>();

  has(key: string): boolean {
    return this.#keys.has(key);
  }

  /** Runs `fn` under `key`; a failure becomes an error toast with the server's message.
   * Resolves to undefined when already busy or on failure. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T | undefined> {
    if (this.#keys.has(key)) return undefined;
    this.#keys.add(key);
    try {
      return await fn();
    } catch (e) {
      notify(errorMessage(e), 'error');
      return undefined;
    } finally {
      this.#keys.delete(key);
    }
  }
}
