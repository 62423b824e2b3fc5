// Signals that arrive while the program is still loading. Installed before any heavy module loads,
// so a SIGTERM sent right after start still leads to a clean, shipped stop instead of a kill.

const received: NodeJS.Signals[] = [];
const latch = (signal: NodeJS.Signals): void => {
  received.push(signal);
};

export function latchEarlySignals(): void {
  process.on('SIGTERM', latch);
  process.on('SIGINT', latch);
}

/** Stops latching and returns what arrived; the caller now owns signal handling. */
export function takeEarlySignals(): NodeJS.Signals[] {
  process.off('SIGTERM', latch);
  process.off('SIGINT', latch);
  return received.splice(0);
}
