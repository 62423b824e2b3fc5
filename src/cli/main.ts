#!/usr/bin/env -S node --max-semi-space-size=2
// Entry point. Only the signal latch loads before the commands (see early-signals.ts).
// The shebang's flag caps V8's young generation (16 MiB semi-spaces by default): a sidecar's
// allocations are short-lived buffers, and the default let a bulk load grow RSS by about 30 MB.
// The Dockerfile's ENTRYPOINT passes the same flag; the benchmark reads it from here.
import { latchEarlySignals } from './early-signals.js';

latchEarlySignals();
await import('./run.js');
