import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { sleep, Wakeup } from '../../src/util/wakeup.js';

describe('Wakeup', () => {
  it('counts a notify made before the wait, once', async () => {
    const w = new Wakeup();
    w.notify();
    w.notify();
    const t0 = Date.now();
    await w.wait(5_000);
    expect(Date.now() - t0).toBeLessThan(1_000);
    // The second notify collapsed into the first: this wait runs to its timeout.
    const t1 = Date.now();
    await w.wait(50);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(45);
  });

  it('ends a wait on notify, and on abort, and returns at once once aborted', async () => {
    const w = new Wakeup();
    const ac = new AbortController();
    const first = w.wait(60_000, ac.signal);
    setTimeout(() => w.notify(), 10);
    await first;
    const second = w.wait(60_000, ac.signal);
    setTimeout(() => ac.abort(), 10);
    await second;
    const t0 = Date.now();
    await w.wait(60_000, ac.signal);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('keeps one abort listener on a signal however many times it waits with it, and moves it to a new signal', async () => {
    const w = new Wakeup();
    const a = new AbortController();
    for (let i = 0; i < 100; i++) {
      const p = w.wait(60_000, a.signal);
      w.notify();
      await p;
    }
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(1);
    const b = new AbortController();
    const p = w.wait(60_000, b.signal);
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(b.signal, 'abort')).toHaveLength(1);
    b.abort();
    await p;
  });
});

describe('sleep', () => {
  it('leaves no listener on the signal once it has resolved', async () => {
    const ac = new AbortController();
    for (let i = 0; i < 20; i++) await sleep(1, ac.signal);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    const long = sleep(60_000, ac.signal);
    ac.abort();
    await long;
  });
});
