// ssh2 drops, without a callback, any SFTP request made once its channel has started closing; the
// wrapper must fail such a request at once and report the channel gone, never leave it waiting.
import { describe, expect, it } from 'vitest';
import type { SFTPWrapper } from 'ssh2';
import { Sftp, SftpRequestError } from '../../src/replica/sftp-io.js';

/** Just enough of an SFTPWrapper: a channel state and a stat that records being called. */
function fakeChannel(state: string): { raw: SFTPWrapper; sent: string[] } {
  const sent: string[] = [];
  const raw = {
    outgoing: { state },
    stat: (path: string, cb: (err: Error | undefined, st?: unknown) => void) => {
      sent.push(path);
      cb(undefined, { size: 1 });
    },
  };
  return { raw: raw as unknown as SFTPWrapper, sent };
}

describe('requests on an SFTP channel that is closing', () => {
  it('fail at once without reaching ssh2, and report the channel gone', async () => {
    const { raw, sent } = fakeChannel('closing');
    const sftp = new Sftp(raw, new AbortController().signal);
    let gone = 0;
    sftp.onChannelGone = () => gone++;
    const err = await sftp.stat('/x').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SftpRequestError);
    expect((err as SftpRequestError).code).toBeNull();
    expect(String(err)).toMatch(/stat \/x.*closing/);
    expect(sent).toEqual([]);
    expect(gone).toBe(1);
    expect(sftp.stalledForMs()).toBe(0);
  });

  it('go through while the channel is open', async () => {
    const { raw, sent } = fakeChannel('open');
    const sftp = new Sftp(raw, new AbortController().signal);
    await expect(sftp.stat('/y')).resolves.toEqual({ size: 1 });
    expect(sent).toEqual(['/y']);
  });
});
