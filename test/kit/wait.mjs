// Bounded polling: every wait ends, in time and in rounds.

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every `stepMs` until it is truthy or `timeoutMs` passed; returns its last value. */
export async function waitFor(cond, timeoutMs, stepMs = 50) {
  const end = Date.now() + timeoutMs;
  const rounds = Math.ceil(timeoutMs / Math.max(1, stepMs)) + 1;
  let v;
  for (let i = 0; i < rounds; i++) {
    v = await cond();
    if (v || Date.now() >= end) return v;
    await sleep(stepMs);
  }
  return v;
}

/** Polls until `cond` holds; true if it did within `timeoutMs`. */
export async function waitUntil(cond, timeoutMs, stepMs = 10) {
  return Boolean(await waitFor(cond, timeoutMs, stepMs));
}
