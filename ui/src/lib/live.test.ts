import { describe, expect, it, vi } from 'vitest';

import { Coalescer, listenWhileMounted } from './live';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('Coalescer', () => {
  it('runs once per request when they do not overlap', async () => {
    const task = vi.fn().mockResolvedValue(undefined);
    const c = new Coalescer(task);
    await c.request();
    await c.request();
    expect(task).toHaveBeenCalledTimes(2);
  });

  it('folds a burst during a run into exactly one more run', async () => {
    const gates = [deferred(), deferred()];
    let n = 0;
    const task = vi.fn(() => gates[n++].promise);
    const c = new Coalescer(task);
    const first = c.request();
    await c.request();
    await c.request();
    await c.request();
    expect(task).toHaveBeenCalledTimes(1);
    gates[0].resolve();
    await Promise.resolve();
    await Promise.resolve();
    expect(task).toHaveBeenCalledTimes(2);
    gates[1].resolve();
    await first;
    expect(task).toHaveBeenCalledTimes(2);
  });

  it('keeps going after a failed run', async () => {
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {});
    const task = vi.fn().mockRejectedValueOnce(new Error('offline')).mockResolvedValue(undefined);
    const c = new Coalescer(task);
    await expect(c.request()).resolves.toBeUndefined();
    await c.request();
    expect(task).toHaveBeenCalledTimes(2);
    quiet.mockRestore();
  });
});

describe('listenWhileMounted', () => {
  it('unsubscribes on unmount', async () => {
    const unlisten = vi.fn();
    const stop = listenWhileMounted(() => Promise.resolve(unlisten));
    await Promise.resolve();
    await Promise.resolve();
    expect(unlisten).not.toHaveBeenCalled();
    stop();
    expect(unlisten).toHaveBeenCalledTimes(1);
    stop();
    expect(unlisten).toHaveBeenCalledTimes(1);
  });

  it('unsubscribes when the unmount came before the subscription', async () => {
    const unlisten = vi.fn();
    const gate = deferred();
    const stop = listenWhileMounted(() => gate.promise.then(() => unlisten));
    stop();
    gate.resolve();
    await gate.promise;
    await Promise.resolve();
    await Promise.resolve();
    expect(unlisten).toHaveBeenCalledTimes(1);
  });

  it('lives without live updates when the subscription fails', async () => {
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {});
    const stop = listenWhileMounted(() => Promise.reject({ code: 'no_backend', message: 'x' }));
    await Promise.resolve();
    await Promise.resolve();
    expect(quiet).toHaveBeenCalled();
    expect(() => stop()).not.toThrow();
    quiet.mockRestore();
  });
});
