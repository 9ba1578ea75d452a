// Live updates: owner events come in bursts (a visitor's message, then the agent's answer a
// moment later, each with its own event), and each one would reload what is shown. These two
// helpers keep that cheap and tidy.

/**
 * Runs `task` for a burst of requests as few times as possible: at most one run at a time, and
 * requests that arrive during a run make exactly one more run after it, so the last request
 * always sees fresh data.
 */
export class Coalescer {
  #running = false;
  #again = false;
  #task: () => Promise<unknown>;

  constructor(task: () => Promise<unknown>) {
    this.#task = task;
  }

  /** Starts a run, or asks the one under way for one more. The caller that started the runs
   * gets a promise that resolves when they are done; the others resolve at once. Never rejects:
   * the task reports its own failures. */
  async request(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    try {
      do {
        this.#again = false;
        try {
          await this.#task();
        } catch (e) {
          console.error('live refresh failed:', e);
        }
      } while (this.#again);
    } finally {
      this.#running = false;
    }
  }
}

/**
 * Subscribes for as long as a component is mounted: call it in `onMount` and return its result.
 * The subscription resolves later than the mount, so an unmount in between still unsubscribes.
 * A failed subscription (outside the app) goes to the console; the screen works without it.
 */
export function listenWhileMounted(subscribe: () => Promise<() => void>): () => void {
  let gone = false;
  let stop: (() => void) | null = null;
  subscribe().then(
    (unlisten) => {
      if (gone) unlisten();
      else stop = unlisten;
    },
    (e) => console.error('live updates are off:', e),
  );
  return () => {
    gone = true;
    stop?.();
    stop = null;
  };
}
