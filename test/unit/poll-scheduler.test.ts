// The shared poll scheduler: jobs spread over their interval, one timer, batching, no catch-up burst.
import { describe, expect, it } from 'vitest';
import { BATCH_MS, PollPlan, PollScheduler, type SchedulerClock } from '../../src/replication/poll-scheduler.js';

/** A manual clock: advance() fires the (single) timer when its time comes. */
class FakeClock implements SchedulerClock {
  t = 0;
  timers = new Map<number, { at: number; fn: () => void }>();
  private ids = 0;
  armed = 0;
  now(): number {
    return this.t;
  }
  setTimer(fn: () => void, ms: number): unknown {
    const id = ++this.ids;
    this.armed++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimer(h: unknown): void {
    this.timers.delete(h as number);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = [...this.timers.entries()].sort((a, b) => a[1].at - b[1].at)[0];
      if (!next || next[1].at > end) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

describe('PollPlan', () => {
  it('spreads jobs of one interval over it, the first a whole interval out', () => {
    const plan = new PollPlan();
    const due: number[] = [];
    for (let i = 0; i < 100; i++) due.push(plan.add(1000, () => undefined, 0).nextAt);
    expect(due[0]).toBe(1000);
    const sorted = [...due].sort((a, b) => a - b);
    // Golden-ratio spacing: no two of 100 jobs closer than a few ms, no gap much over 2/100 of the interval.
    const gaps = sorted.slice(1).map((t, i) => t - sorted[i]!);
    expect(Math.min(...gaps)).toBeGreaterThan(3);
    expect(Math.max(...gaps)).toBeLessThan(30);
    expect(Math.min(...due)).toBeGreaterThan(0);
    expect(Math.max(...due)).toBeLessThanOrEqual(1000);
  });

  it('takes what is due within the batching slack and reschedules it one interval on', () => {
    const plan = new PollPlan();
    const ran: string[] = [];
    const a = plan.add(1000, () => ran.push('a'), 0); // due 1000
    const b = plan.add(1000, () => ran.push('b'), 0); // due ~382
    expect(plan.takeDue(b.nextAt - BATCH_MS - 1)).toEqual([]);
    for (const run of plan.takeDue(b.nextAt - BATCH_MS)) run();
    expect(ran).toEqual(['b']);
    expect(b.nextAt).toBeGreaterThan(1000);
    for (const run of plan.takeDue(1000)) run();
    expect(ran).toEqual(['b', 'a']);
    expect(a.nextAt).toBe(2000);
  });

  it('does not burst to catch up after a stall: a late job is due one interval from now', () => {
    const plan = new PollPlan();
    let runs = 0;
    plan.add(100, () => runs++, 0);
    for (const run of plan.takeDue(10_000)) run();
    expect(runs).toBe(1);
    expect(plan.nextDueAt()).toBe(10_100);
  });

  it('removes a job wherever it sits in the heap', () => {
    const plan = new PollPlan();
    const jobs = Array.from({ length: 20 }, (_, i) => plan.add(100 + i, () => undefined, 0));
    for (const j of jobs.filter((_, i) => i % 3 === 0)) plan.remove(j);
    expect(plan.size).toBe(13);
    let last = -Infinity;
    // Heap order holds: times come out non-decreasing.
    for (let t = 0; t < 200; t++) {
      const n = plan.nextDueAt()!;
      expect(n).toBeGreaterThanOrEqual(last);
      last = n;
      plan.takeDue(n);
    }
  });

  it('refuses an interval that is not a positive number', () => {
    const plan = new PollPlan();
    expect(() => plan.add(0, () => undefined, 0)).toThrow(/positive/);
    expect(() => plan.add(Number.POSITIVE_INFINITY, () => undefined, 0)).toThrow(/positive/);
  });
});

describe('PollScheduler', () => {
  it('runs 1,000 jobs each once per interval with far fewer wake-ups than jobs, on one timer', () => {
    const clock = new FakeClock();
    const s = new PollScheduler(clock);
    const counts = new Array<number>(1000).fill(0);
    for (let i = 0; i < 1000; i++) s.every(1000, () => counts[i]!++);
    clock.armed = 0;
    clock.advance(10_000);
    // Each job ran about 10 times in 10 intervals (9 to 11, by where its phase fell and the batching slack).
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(9);
    expect(Math.max(...counts)).toBeLessThanOrEqual(11);
    expect(clock.timers.size).toBe(1);
    // Batched: at most one wake-up per BATCH_MS.
    expect(clock.armed).toBeLessThanOrEqual(10_000 / BATCH_MS + 10);
  });

  it('one job alone wakes once per interval', () => {
    const clock = new FakeClock();
    const s = new PollScheduler(clock);
    let runs = 0;
    s.every(1000, () => runs++);
    clock.armed = 0;
    clock.advance(5_000);
    expect(runs).toBe(5);
    expect(clock.armed).toBe(5);
  });

  it('a cancelled job never runs again; with none left the timer is gone', () => {
    const clock = new FakeClock();
    const s = new PollScheduler(clock);
    let a = 0;
    let b = 0;
    const ha = s.every(100, () => a++);
    const hb = s.every(100, () => b++);
    clock.advance(250);
    ha.cancel();
    const before = a;
    clock.advance(1000);
    expect(a).toBe(before);
    expect(b).toBeGreaterThanOrEqual(10);
    hb.cancel();
    expect(clock.timers.size).toBe(0);
  });

  it('a job that throws is reported and the others keep running', () => {
    const clock = new FakeClock();
    const errors: unknown[] = [];
    const s = new PollScheduler(clock, (err) => errors.push(err));
    let ok = 0;
    s.every(100, () => {
      throw new Error('boom');
    });
    s.every(100, () => ok++);
    clock.advance(1000);
    expect(ok).toBeGreaterThanOrEqual(9);
    expect(errors.length).toBeGreaterThanOrEqual(9);
    expect(String(errors[0])).toContain('boom');
  });
});
