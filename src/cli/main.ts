#!/usr/bin/env -S node --max-semi-space-size=2 --v8-pool-size=1
// Entry point. Only the signal latch loads before the commands (see early-signals.ts).
// The shebang's flags keep memory down:
// - --max-semi-space-size=2 caps V8's young generation (16 MiB semi-spaces by default): a sidecar's
//   allocations are short-lived buffers, and the default let a bulk load grow RSS by about 30 MB;
// - --v8-pool-size=1 gives V8 one background thread instead of one per core: a sidecar needs no
//   parallel GC, and each thread held memory (about 5 MB less RSS, the same CPU, measured idle and
//   at 100 tx/s).
// The Dockerfile's ENTRYPOINT and deploy/systemd/walship.service pass the same flags; the benchmark
// reads them from here.
import { latchEarlySignals } from './early-signals.js';

latchEarlySignals();
await import('./run.js');
