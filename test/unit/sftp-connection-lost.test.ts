// Requests still waiting when the connection goes are failed by the wrapper (ssh2 does not always
// call back then), through one abort listener for the connection rather than one per request.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { SFTPWrapper } from 'ssh2';
import { Sftp, SftpRequestError } from '../../src/replica/sftp-io.js';

type StatCb = (err: Error | undefined, st?: unknown) => void;

/** An open channel whose stat answers only when the test says so. */
function heldChannel(): { raw: SFTPWrapper; held: Map<string, StatCb> } {
  const held = new Map<string, StatCb>();
  const raw = { outgoing: { state: 'open' }, stat: (path: string, cb: StatCb) => void held.set(path, cb) };
  return { raw: raw as unknown as SFTPWrapper, held };
}

const outcome = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    (v) => ({ ok: v }),
    (e: unknown) => e,
  );

describe('an SFTP connection lost with requests waiting', () => {
  it('fails every unanswered request, keeps answered ones, and refuses new ones', async () => {
    const ac = new AbortController();
    const { raw, held } = heldChannel();
    const sftp = new Sftp(raw, ac.signal);
    const a = outcome(sftp.stat('/a'));
    const b = outcome(sftp.stat('/b'));
    const c = outcome(sftp.stat('/c'));
    held.get('/b')!(undefined, { size: 2 });
    ac.abort();
    const [ea, rb, ec] = await Promise.all([a, b, c]);
    expect(rb).toEqual({ ok: { size: 2 } });
    for (const [e, p] of [
      [ea, '/a'],
      [ec, '/c'],
    ] as const) {
      expect(e).toBeInstanceOf(SftpRequestError);
      expect((e as SftpRequestError).code).toBeNull();
      expect(String(e)).toContain(`stat ${p}`);
      expect(String(e)).toContain('connection lost before the server answered');
    }
    expect(sftp.stalledForMs()).toBe(0);
    // A late answer from ssh2 after the failure changes nothing.
    held.get('/a')!(undefined, { size: 1 });
    expect(sftp.stalledForMs()).toBe(0);
    const late = await outcome(sftp.stat('/d'));
    expect(String(late)).toContain('connection lost');
  });

  it('adds one abort listener per connection, however many requests it makes', async () => {
    const ac = new AbortController();
    const { raw, held } = heldChannel();
    const sftp = new Sftp(raw, ac.signal);
    const before = getEventListeners(ac.signal, 'abort').length;
    const all = Array.from({ length: 50 }, (_, i) => sftp.stat(`/f${i}`));
    expect(getEventListeners(ac.signal, 'abort').length).toBe(before);
    for (const cb of held.values()) cb(undefined, { size: 0 });
    await Promise.all(all);
    expect(getEventListeners(ac.signal, 'abort').length).toBe(before);
    expect(before).toBe(1);
  });
});
