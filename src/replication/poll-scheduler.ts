// One timer for every periodic job of every database: the fallback polls, compaction, snapshot,
// validation and retention checks. With a timer per job, 1,000 databases meant 7,000 timers whose
// first ticks all fell in the same instant, every second; here the jobs are spread over their
// intervals (each new job starts at its own phase, golden-ratio spaced, so any number of them stays
// evenly spread), and the single timer is set for the earliest job due. Jobs due within a few
// milliseconds of each other run in the same wake-up, so N databases cost far fewer than N wake-ups
// per interval; one database alone costs one wake-up per interval, as its own timer did.
//
// The plan (PollPlan) is pure: times in, jobs out. PollScheduler adds the clock and the one timer.

export interface SchedulerClock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

const realClock: SchedulerClock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Jobs due this much ahead of time run in the current wake-up (never more than an eighth of their interval). */
export const BATCH_MS = 20;
const GOLDEN = 0.6180339887498949;

interface Job {
  readonly id: number;
  readonly intervalMs: number;
  readonly run: () => void;
  nextAt: number;
  removed: boolean;
}

/** A min-heap of jobs by their next due time. Pure. */
export class PollPlan {
  private readonly heap: Job[] = [];
  private added = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Adds a job first due within one interval of `now`, at its spread phase. */
  add(intervalMs: number, run: () => void, now: number): Job {
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) throw new Error(`poll interval must be a positive number of milliseconds, got ${intervalMs}`);
    // The first job is due a whole interval from now (as a timer of its own would be); later ones
    // fall between, golden-ratio spaced.
    const phase = 1 - ((this.added * GOLDEN) % 1);
    const job: Job = { id: this.added++, intervalMs, run, nextAt: now + intervalMs * phase, removed: false };
    this.push(job);
    return job;
  }

  remove(job: Job): void {
    if (job.removed) return;
    job.removed = true;
    const i = this.heap.indexOf(job);
    if (i < 0) return;
    const last = this.heap.pop()!;
    if (i < this.heap.length) {
      this.heap[i] = last;
      this.down(i);
      this.up(i);
    }
  }

  /** When the earliest job is due; null with no jobs. */
  nextDueAt(): number | null {
    return this.heap[0]?.nextAt ?? null;
  }

  /**
   * Takes every job due by `now` (or within its batching slack), and schedules each again one
   * interval on. A job that fell more than an interval behind (the process was stopped, the event
   * loop blocked) is due again one interval from now: no burst of catch-up runs.
   */
  takeDue(now: number): Array<() => void> {
    const out: Array<() => void> = [];
    for (;;) {
      const top = this.heap[0];
      if (!top || top.nextAt - now > Math.min(BATCH_MS, top.intervalMs / 8)) break;
      out.push(top.run);
      top.nextAt += top.intervalMs;
      if (top.nextAt <= now) top.nextAt = now + top.intervalMs;
      this.down(0);
    }
    return out;
  }

  private push(job: Job): void {
    this.heap.push(job);
    this.up(this.heap.length - 1);
  }

  private less(a: number, b: number): boolean {
    const x = this.heap[a]!;
    const y = this.heap[b]!;
    return x.nextAt < y.nextAt || (x.nextAt === y.nextAt && x.id < y.id);
  }

  private swap(a: number, b: number): void {
    const t = this.heap[a]!;
    this.heap[a] = this.heap[b]!;
    this.heap[b] = t;
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) return;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const n = this.heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}

/** A job's handle: cancel() stops it for good. */
export interface PollHandle {
  cancel(): void;
}

export class PollScheduler {
  private readonly plan = new PollPlan();
  private timer: unknown = null;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly clock: SchedulerClock = realClock,
    /** Receives a job's exception (a job should not throw; one that does must not stop the others). */
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  /** Number of jobs scheduled. */
  get size(): number {
    return this.plan.size;
  }

  /** Runs `run` every `intervalMs`, first within one interval from now. */
  every(intervalMs: number, run: () => void): PollHandle {
    const job = this.plan.add(intervalMs, run, this.clock.now());
    this.arm();
    return {
      cancel: () => {
        this.plan.remove(job);
        if (this.plan.size === 0) this.disarm();
      },
    };
  }

  private fire(): void {
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
    for (const run of this.plan.takeDue(this.clock.now())) {
      try {
        run();
      } catch (err) {
        this.onError(err);
      }
    }
    this.arm();
  }

  /** Sets the timer for the earliest job, unless it is already set for that time or earlier. */
  private arm(): void {
    const at = this.plan.nextDueAt();
    if (at === null) return this.disarm();
    if (this.timer !== null && this.timerAt <= at) return;
    this.disarm();
    this.timerAt = at;
    this.timer = this.clock.setTimer(() => this.fire(), Math.max(1, at - this.clock.now()));
  }

  private disarm(): void {
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.timerAt = Number.POSITIVE_INFINITY;
  }
}
