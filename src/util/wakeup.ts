// A level-triggered wake-up: notify() before or during wait() both count, and several notifies
// before a wait collapse into one.
//
// The abort listener is added once for each signal a Wakeup waits with (a loop waits with the same
// one every pass), not on every wait: adding and removing an EventTarget listener was a few
// microseconds each time, at every capture and shipping pass.

export class Wakeup {
  private pending = false;
  private waiter: (() => void) | null = null;
  /** The signal whose abort listener is registered, and the listener. */
  private bound: { signal: AbortSignal; listener: () => void } | null = null;

  notify(): void {
    this.pending = true;
    this.release();
  }

  /** Resolves on notify(), after `timeoutMs`, or when `signal` aborts; whichever comes first. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.pending || signal?.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    if (signal) this.bind(signal);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.waiter === done) this.waiter = null;
        this.pending = false;
        resolve();
      };
      const timer = Number.isFinite(timeoutMs) ? setTimeout(done, timeoutMs) : undefined;
      this.waiter = done;
    });
  }

  /** Ends the wait in progress, if any. */
  private release(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private bind(signal: AbortSignal): void {
    if (this.bound?.signal === signal) return;
    if (this.bound) this.bound.signal.removeEventListener('abort', this.bound.listener);
    const listener = (): void => {
      if (this.bound?.signal === signal) this.bound = null;
      this.release();
    };
    signal.addEventListener('abort', listener, { once: true });
    this.bound = { signal, listener };
  }
}

/** Resolves after `ms` (never, for an infinite one), or when `signal` aborts. Its abort listener goes when it resolves. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    signal?.addEventListener('abort', done, { once: true });
  });
}
