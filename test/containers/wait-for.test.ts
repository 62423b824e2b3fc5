// The container tests' waitFor: a condition that is not met yet is polled again, an assertion
// that fails inside the poll fails at once (it used to be retried until a later poll passed).
// No engine needed.
import { describe, expect, it } from 'vitest';
import { waitFor } from './docker.js';

describe('waitFor', () => {
  it('polls a condition that throws until it holds', async () => {
    let n = 0;
    const v = await waitFor('the third poll', async () => {
      n++;
      if (n < 3) throw new Error('connection refused');
      return n;
    }, 5_000, 10);
    expect(v).toBe(3);
  });

  it('does not swallow a failed expect: the first failing assertion is the result', async () => {
    let n = 0;
    const polling = waitFor('a value', async () => {
      n++;
      expect(n, 'integrity on poll ' + n).toBeGreaterThan(1); // fails on the first poll only
      return n;
    }, 5_000, 10);
    await expect(polling).rejects.toThrow(/integrity on poll 1/);
    expect(n).toBe(1);
  });

  it('times out with the last error', async () => {
    await expect(waitFor('never', async () => { throw new Error('still starting'); }, 50, 10)).rejects.toThrow(/timed out after 50 ms waiting for never \(last error: still starting\)/);
  });
});
