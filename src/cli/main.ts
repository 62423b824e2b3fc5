#!/usr/bin/env -S node --max-semi-space-size=2 --v8-pool-size=1 --interrupt-budget=1000000
// Entry point. Only the signal latch loads before the commands (see early-signals.ts).
// The shebang's flags keep memory and CPU down:
// - --max-semi-space-size=2 caps V8's young generation (16 MiB semi-spaces by default): a sidecar's
//   allocations are short-lived buffers, and the default let a bulk load grow RSS by about 30 MB;
// - --v8-pool-size=1 gives V8 one background thread instead of one per core: a sidecar needs no
//   parallel GC, and each thread held memory (about 5 MB less RSS, the same CPU, measured idle and
//   at 100 tx/s);
// - --interrupt-budget=1000000 (V8's default is 67584) makes a function earn about 15 times as much
//   work before TurboFan optimizes it. A sidecar's code mostly runs a few times a second, and the
//   default kept TurboFan compiling it on V8's thread through the first minutes of every run (at
//   100 tx/s, seconds 12 to 27 of a run: 0.06 CPU s on that thread, 0.02 with this budget). RSS at
//   100 tx/s is 3-7 MB lower in every run measured. The CPU change is within the bench's noise:
//   -17% at sync-interval 1s and -10% at 0s over three runs each of one scenario, -5% and +11% in
//   two side-by-side runs in which Litestream's own CPU moved by 20%. Hot loops still get
//   optimized, later: a 100 MB bulk load took about 13% more CPU, a 512 MB one no more.
// The Dockerfile's ENTRYPOINT and deploy/systemd/walship.service pass the same flags; the benchmark
// reads them from here.
import { latchEarlySignals } from './early-signals.js';

latchEarlySignals();
await import('./run.js');
