#!/usr/bin/env node
// Entry point. Only the signal latch loads before the commands (see early-signals.ts).
import { latchEarlySignals } from './early-signals.js';

latchEarlySignals();
await import('./run.js');
