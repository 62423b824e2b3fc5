// walship replicate and restore against OpenSSH's sshd on loopback: the whole path through SFTP,
// with sshd killed mid-upload, wrong and unknown host keys, a second (file) replica, passphrase keys
// and the ~/.ssh defaults.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LtxFile } from '../../src/ltx/decoder.js';
import { ltxFiles } from '../helpers/files.js';
import { checkRestored, dump } from '../helpers/oracle.js';
import { runWalship, runWriter, startWalship, startWriter } from '../helpers/processes.js';
import { generateKey, Sshd } from '../helpers/sshd.js';
import { makeWorkdir, type Workdir } from '../helpers/workdir.js';

let work: Workdir | null = null;
let sshd: Sshd | null = null;
afterEach(async () => {
  await sshd?.cleanup();
  sshd = null;
  work?.cleanup();
  work = null;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface SftpReplicaYaml {
  remote: string;
  extra?: string;
  url?: string;
  /** 30s by default, as walship's own; tests that expect unshipped files at stop set it short. */
  shutdownSyncTimeout?: string;
}

/** A config with one sftp replica (and optionally a file replica too). */
function writeConfig(w: Workdir, s: Sshd, r: SftpReplicaYaml, fileReplica = false): void {
  const url = r.url ?? `sftp://${s.user}@127.0.0.1:${s.port}${r.remote}`;
  const extra = r.extra ?? `        key-path: ${s.clientKey.privateKeyPath}\n        host-key: "${s.hostKeyLine}"\n`;
  writeFileSync(
    w.config,
    `shutdown-sync-timeout: ${r.shutdownSyncTimeout ?? '30s'}
dbs:
  - path: ${w.db}
    replicas:
      - url: ${url}
        name: offsite
        sync-interval: 0s
${extra}${fileReplica ? `      - url: file://${w.replica}\n        name: local\n        sync-interval: 0s\n` : ''}`,
  );
}

/** Every LTX-named file in the replica decodes whole: a reader never sees a partial file. */
async function assertOnlyWholeFiles(root: string): Promise<number> {
  let n = 0;
  for (const level of [0, 1, 2, 3, 9]) {
    for (const f of ltxFiles(root, level)) {
      let buf: Buffer;
      try {
        buf = readFileSync(f);
      } catch {
        continue; // removed by retention between listing and reading
      }
      await LtxFile.open(buf).verify();
      n++;
    }
  }
  return n;
}

describe('replication through sshd', () => {
  it('round trip: restore by database path equals the source', async () => {
    sshd = await Sshd.start();
    work = makeWorkdir();
    const remote = path.join(work.dir, 'remote');
    writeConfig(work, sshd, { remote });
    const walship = startWalship(['replicate', '-config', work.config]);
    await runWriter('python', { db: work.db, from: 1, to: 40, payload: 'mixed', autocheckpoint: 100, vacuumAt: 20 });
    expect(await walship.stop()).toBe(0);
    expect(await assertOnlyWholeFiles(remote)).toBeGreaterThan(0);
    const source = dump(work.db);
    const restoredPath = path.join(work.dir, 'restored.db');
    const r = await runWalship(['restore', '-config', work.config, '-o', restoredPath, work.db]);
    expect(r.stderr).toBe('');
    expect(checkRestored(restoredPath, 'mixed').k).toBe(40);
    expect(dump(restoredPath)).toBe(source);
  });

  it('sshd killed mid-upload and restarted three times: nothing lost, no partial file visible, backlog drains', async () => {
    sshd = await Sshd.start();
    work = makeWorkdir();
    const remote = path.join(work.dir, 'remote');
    // The stop ships the backlog within shutdown-sync-timeout, however soon after a restart it
    // comes: 100 restarts in sftp-restart-soak.test.ts show no upload left unanswered after one.
    writeConfig(work, sshd, { remote, shutdownSyncTimeout: '10s' });
    const walship = startWalship(['replicate', '-config', work.config]);
    const writer = startWriter('node', { db: work.db, from: 1, to: 300, payload: 'mixed', autocheckpoint: 200, delayMs: 20 });
    // Kill only once shipping is under way, however slow the machine is.
    for (let i = 0; i < 200 && ltxFiles(remote, 0).length < 2; i++) await sleep(100);
    let checks = 0;
    for (let round = 0; round < 3; round++) {
      await sleep(700);
      await sshd.stop(); // kill -9 of sshd and every session
      for (let i = 0; i < 5; i++) {
        checks += await assertOnlyWholeFiles(remote);
        await sleep(100);
      }
      await sshd.restart();
    }
    await writer.done();
    // shutdown-sync-timeout, then the connection's close (2 s grace) and the process exit.
    const code = await walship.stop('SIGTERM', 15_000);
    expect(walship.logs().split('\n').filter((l) => l.includes('"event":"sftp_stalled"'))).toEqual([]);
    expect(code, `walship logs:\n${walship.logs().split('\n').slice(-60).join('\n')}\nsshd logs:\n${sshd.logs.split('\n').slice(-60).join('\n')}`).toBe(0);
    expect(checks).toBeGreaterThan(0);
    await assertOnlyWholeFiles(remote);
    const tmpLeft = readdirSync(path.join(remote, 'ltx', '0')).filter((n) => n.endsWith('.tmp'));
    expect(tmpLeft).toEqual([]);
    const restoredPath = path.join(work.dir, 'restored.db');
    const r = await runWalship(['restore', '-config', work.config, '-o', restoredPath, work.db]);
    expect(r.stderr).toBe('');
    expect(checkRestored(restoredPath, 'mixed').k).toBe(300);
    expect(dump(restoredPath)).toBe(dump(work.db));
  });
});

describe('SIGTERM while the replica has stopped answering', () => {
  it('exits within shutdown-sync-timeout plus a few seconds, keeps the backlog, and ships it on the next start', async () => {
    sshd = await Sshd.start();
    work = makeWorkdir();
    const remote = path.join(work.dir, 'remote');
    writeConfig(work, sshd, { remote, shutdownSyncTimeout: '3s' });
    let walship = startWalship(['replicate', '-config', work.config]);
    await runWriter('node', { db: work.db, from: 1, to: 5, payload: 'small' });
    for (let i = 0; i < 200 && ltxFiles(remote, 0).length === 0; i++) await sleep(100);
    expect(ltxFiles(remote, 0).length).toBeGreaterThan(0);
    // Every sshd process frozen: the connection stays open, nothing answers, not even keepalives.
    const resume = sshd.pause();
    try {
      await runWriter('node', { db: work.db, from: 6, to: 10, payload: 'small' });
      await sleep(500);
      const started = Date.now();
      // The request watchdog (60 s) and keepalives (30 s) are far longer; the stop must not wait for them.
      expect(await walship.stop('SIGTERM', 30_000)).toBe(1);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(walship.logs()).toMatch(/"event":"stopped"[^\n]*"shipped":false/);
    } finally {
      resume();
    }
    walship = startWalship(['replicate', '-config', work.config]);
    await walship.waitForEvent('started');
    expect(await walship.stop()).toBe(0);
    const restoredPath = path.join(work.dir, 'restored.db');
    const r = await runWalship(['restore', '-config', work.config, '-o', restoredPath, work.db]);
    expect(r.stderr).toBe('');
    expect(checkRestored(restoredPath, 'small').k).toBe(10);
    expect(dump(restoredPath)).toBe(dump(work.db));
  });
});

describe('host keys', () => {
  it('a wrong host key is refused with both fingerprints; nothing is uploaded; capture goes on; restore writes nothing', async () => {
    sshd = await Sshd.start();
    work = makeWorkdir();
    const remote = path.join(work.dir, 'remote');
    const other = await generateKey(work.dir, 'impostor');
    writeConfig(work, sshd, { remote, shutdownSyncTimeout: '3s', extra: `        key-path: ${sshd.clientKey.privateKeyPath}\n        host-key: "${other.publicKey.split(' ').slice(0, 2).join(' ')}"\n` });
    const walship = startWalship(['replicate', '-config', work.config]);
    await runWriter('node', { db: work.db, from: 1, to: 10, payload: 'small', delayMs: 20 });
    const failure = await walship.waitForEvent('ship_failed');
    expect(String(failure.err)).toMatch(/SHA256:\S+.*SHA256:\S+/);
    // It could not ship, so it says so with its exit status; the files stay in staging.
    expect(await walship.stop('SIGTERM', 15_000)).toBe(1);
    expect(ltxFiles(remote, 0)).toEqual([]);
    expect(ltxFiles(path.join(work.dir, '.app.db-walship'), 0).length).toBeGreaterThan(0);
    const out = path.join(work.dir, 'out.db');
    const r = await runWalship(['restore', '-config', work.config, '-o', out, work.db]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/SHA256:/);
    expect(() => readFileSync(out)).toThrow();
  });

  it('an unknown host is refused with the ssh-keyscan hint; known_hosts from ssh-keyscan is accepted', async () => {
    sshd = await Sshd.start();
    work = makeWorkdir();
    const remote = path.join(work.dir, 'remote');
    const knownHosts = path.join(work.dir, 'known_hosts');
    writeFileSync(knownHosts, '');
    writeConfig(work, sshd, { remote, shutdownSyncTimeout: '3s', extra: `        key-path: ${sshd.clientKey.privateKeyPath}\n        known-hosts-path: ${knownHosts}\n` });
    let walship = startWalship(['replicate', '-config', work.config]);
    await runWriter('node', { db: work.db, from: 1, to: 5, payload: 'small' });
    const failure = await walship.waitForEvent('ship_failed');
    expect(String(failure.err)).toContain(`ssh-keyscan -p ${sshd.port} 127.0.0.1`);
    expect(await walship.stop('SIGTERM', 15_000)).toBe(1);
    writeFileSync(knownHosts, await sshd.keyscan({ hashed: true }));
    walship = startWalship(['replicate', '-config', work.config]);
    await walship.waitForEvent('started');
    expect(await walship.stop()).toBe(0);
    const out = path.join(work.dir, 'out.db');
    expect((await runWalship(['restore', '-config', work.config, '-o', out, work.db])).code).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(5);
  });
});

describe('two replicas, sftp and file', () => {
  it('with sshd down the file replica stays current; afterwards both converge', async () => {
    sshd = await Sshd.start();
    work = makeWorkdir();
    const remote = path.join(work.dir, 'remote');
    writeConfig(work, sshd, { remote }, true);
    const walship = startWalship(['replicate', '-config', work.config]);
    await runWriter('node', { db: work.db, from: 1, to: 20, payload: 'small' });
    await sshd.stop();
    await runWriter('node', { db: work.db, from: 21, to: 60, payload: 'small', delayMs: 10 });
    await sleep(1000);
    const midFile = path.join(work.dir, 'mid-file.db');
    expect((await runWalship(['restore', '-o', midFile, `file://${work.replica}`])).code).toBe(0);
    expect(checkRestored(midFile, 'small').k).toBe(60);
    await sshd.restart();
    await runWriter('node', { db: work.db, from: 61, to: 70, payload: 'small' });
    expect(await walship.stop()).toBe(0);
    for (const name of ['offsite', 'local']) {
      const out = path.join(work.dir, `${name}.db`);
      const r = await runWalship(['restore', '-config', work.config, '-replica', name, '-o', out, work.db]);
      expect(r.stderr).toBe('');
      expect(checkRestored(out, 'small').k).toBe(70);
      expect(dump(out)).toBe(dump(work.db));
    }
  });
});

describe('client keys', () => {
  it('a passphrase-protected key works, and neither passphrase nor key reaches any log', async () => {
    sshd = await Sshd.start();
    work = makeWorkdir();
    const remote = path.join(work.dir, 'remote');
    const passphrase = 'correct horse battery staple 7431';
    const key = await generateKey(work.dir, 'locked', { passphrase });
    await sshd.authorize(key.publicKey);
    writeConfig(work, sshd, { remote, extra: `        key-path: ${key.privateKeyPath}\n        key-passphrase: \${KEY_PASSPHRASE}\n        host-key: "${sshd.hostKeyLine}"\n` });
    const walship = startWalship(['replicate', '-config', work.config], { KEY_PASSPHRASE: passphrase, LOG_LEVEL: 'debug' });
    await runWriter('node', { db: work.db, from: 1, to: 10, payload: 'small' });
    expect(await walship.stop()).toBe(0);
    const out = path.join(work.dir, 'out.db');
    const r = await runWalship(['restore', '-config', work.config, '-o', out, work.db], { KEY_PASSPHRASE: passphrase });
    expect(r.code).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(10);
    // A wrong passphrase fails clearly, still without printing either.
    const wrong = await runWalship(['restore', '-config', work.config, '-o', path.join(work.dir, 'x.db'), work.db], { KEY_PASSPHRASE: 'nope-nope' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/passphrase/i);
    const keyBody = readFileSync(key.privateKeyPath, 'utf8').split('\n')[2]!;
    for (const text of [walship.logs(), r.stdout, r.stderr, wrong.stdout, wrong.stderr]) {
      expect(text).not.toContain(passphrase);
      expect(text).not.toContain('nope-nope');
      expect(text).not.toContain(keyBody);
    }
  });

  it('a key the server does not accept gives a clear error; capture continues and shipping resumes once it is authorized', async () => {
    sshd = await Sshd.start();
    work = makeWorkdir();
    const remote = path.join(work.dir, 'remote');
    const stranger = await generateKey(work.dir, 'stranger');
    writeConfig(work, sshd, { remote, extra: `        key-path: ${stranger.privateKeyPath}\n        host-key: "${sshd.hostKeyLine}"\n` });
    const walship = startWalship(['replicate', '-config', work.config]);
    await runWriter('node', { db: work.db, from: 1, to: 10, payload: 'small' });
    const failure = await walship.waitForEvent('ship_failed');
    expect(String(failure.err)).toMatch(/authentication|auth/i);
    await sshd.authorize(stranger.publicKey);
    await runWriter('node', { db: work.db, from: 11, to: 15, payload: 'small' });
    expect(await walship.stop()).toBe(0);
    const out = path.join(work.dir, 'out.db');
    expect((await runWalship(['restore', '-config', work.config, '-o', out, work.db])).code).toBe(0);
    expect(checkRestored(out, 'small').k).toBe(15);
  });

  it('the ~/.ssh defaults work: id_ed25519 and known_hosts under HOME, nothing in the config', async () => {
    sshd = await Sshd.start();
    work = makeWorkdir();
    const remote = path.join(work.dir, 'remote');
    const home = path.join(work.dir, 'home');
    mkdirSync(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(home, '.ssh', 'id_ed25519'), readFileSync(sshd.clientKey.privateKeyPath), { mode: 0o600 });
    writeFileSync(path.join(home, '.ssh', 'known_hosts'), await sshd.keyscan());
    writeConfig(work, sshd, { remote, extra: '' });
    const env = { HOME: home };
    const walship = startWalship(['replicate', '-config', work.config], env);
    await runWriter('python', { db: work.db, from: 1, to: 12, payload: 'small' });
    expect(await walship.stop()).toBe(0);
    const out = path.join(work.dir, 'out.db');
    const r = await runWalship(['restore', '-o', out, `sftp://${sshd.user}@127.0.0.1:${sshd.port}${remote}`], env);
    expect(r.stderr).toBe('');
    expect(checkRestored(out, 'small').k).toBe(12);
  });
});

describe('a replica down past its backlog limit', () => {
  it('stops holding staging, says so, and is healed when it is back (compacted files or a snapshot)', async () => {
    sshd = await Sshd.start();
    work = makeWorkdir();
    const remote = path.join(work.dir, 'remote');
    writeConfig(work, sshd, { remote, extra: `        key-path: ${sshd.clientKey.privateKeyPath}\n        host-key: "${sshd.hostKeyLine}"\n        backlog-limit: 16KB\n` }, true);
    writeFileSync(work.config, `levels:\n  - interval: 1s\n${readFileSync(work.config, 'utf8')}`);
    const walship = startWalship(['replicate', '-config', work.config]);
    await runWriter('node', { db: work.db, from: 1, to: 10, payload: 'small' });
    await sleep(500);
    await sshd.stop();
    await runWriter('node', { db: work.db, from: 11, to: 120, payload: 'small', delayMs: 10 });
    await walship.waitForEvent('backlog_overflow', 20_000);
    // Staging no longer waits for the dead replica: it shrinks back once compaction and pruning run.
    await sleep(2500);
    const staged = ltxFiles(path.join(work.dir, '.app.db-walship'), 0).length;
    expect(staged).toBeLessThan(20);
    await sshd.restart();
    await runWriter('node', { db: work.db, from: 121, to: 130, payload: 'small' });
    expect(await walship.stop()).toBe(0);
    const out = path.join(work.dir, 'healed.db');
    const r = await runWalship(['restore', '-config', work.config, '-replica', 'offsite', '-o', out, work.db]);
    expect(r.stderr).toBe('');
    expect(checkRestored(out, 'small').k).toBe(130);
    expect(dump(out)).toBe(dump(work.db));
  });
});

describe("the seed deployment's litestream.yml", () => {
  it('works as written (user and host filled in) with the ~/.ssh defaults, and SIGTERM ships despite sync-interval 5m', async () => {
    sshd = await Sshd.start();
    work = makeWorkdir();
    const remote = path.join(work.dir, 'replica-server', 'cache.db');
    const home = path.join(work.dir, 'home');
    mkdirSync(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(home, '.ssh', 'id_ed25519'), readFileSync(sshd.clientKey.privateKeyPath), { mode: 0o600 });
    writeFileSync(path.join(home, '.ssh', 'known_hosts'), await sshd.keyscan({ hashed: true }));
    writeFileSync(
      work.config,
      `dbs:
  - path: ${work.db}
    replicas:
      - url: sftp://${sshd.user}@127.0.0.1:${sshd.port}${remote}
        retention: 24h
        sync-interval: 5m  # Since data changes infrequently
        validation-interval: 1h
`,
    );
    const env = { HOME: home };
    const walship = startWalship(['replicate', '-config', work.config], env);
    await walship.waitForEvent('started');
    await runWriter('python', { db: work.db, from: 1, to: 25, payload: 'small', delayMs: 20 });
    await sleep(1000);
    expect(await walship.stop()).toBe(0);
    expect(walship.logs()).not.toContain('config_warning');
    const out = path.join(work.dir, 'out.db');
    const r = await runWalship(['restore', '-config', work.config, '-o', out, work.db], env);
    expect(r.stderr).toBe('');
    expect(checkRestored(out, 'small').k).toBe(25);
    expect(dump(out)).toBe(dump(work.db));
  });
});

describe('retention on an SFTP replica', () => {
  it('removes expired snapshots and covered level-0 files through sshd, and the latest restore stays exact', async () => {
    sshd = await Sshd.start();
    work = makeWorkdir();
    const remote = path.join(work.dir, 'remote');
    writeFileSync(
      work.config,
      `levels:
  - interval: 1s
l0-retention: 1s
dbs:
  - path: ${work.db}
    replicas:
      - url: sftp://${sshd.user}@127.0.0.1:${sshd.port}${remote}
        key-path: ${sshd.clientKey.privateKeyPath}
        host-key: "${sshd.hostKeyLine}"
        sync-interval: 0s
        retention: 2s
        retention-check-interval: 1s
        snapshot-interval: 1s
`,
    );
    const walship = startWalship(['replicate', '-config', work.config]);
    await runWriter('node', { db: work.db, from: 1, to: 110, payload: 'small', delayMs: 80 });
    await sleep(3500);
    expect(await walship.stop()).toBe(0);
    const snapshotEvents = walship.logs().split('"event":"snapshot"').length - 1;
    const snapshots = ltxFiles(remote, 9);
    expect(snapshotEvents).toBeGreaterThan(3);
    expect(snapshots.length).toBeGreaterThan(0);
    expect(snapshots.length).toBeLessThan(snapshotEvents);
    expect(walship.logs()).toContain('"event":"retention"');
    // Level-0 files covered by level 1 and older than l0-retention were deleted on the server.
    const l0 = ltxFiles(remote, 0).map((p) => Number.parseInt(path.basename(p).slice(0, 16), 16));
    expect(l0.length === 0 || Math.min(...l0) > 1).toBe(true);
    expect(await assertOnlyWholeFiles(remote)).toBeGreaterThan(0);
    const out = path.join(work.dir, 'restored.db');
    const r = await runWalship(['restore', '-config', work.config, '-o', out, work.db]);
    expect(r.stderr).toBe('');
    expect(checkRestored(out, 'small').k).toBe(110);
    expect(dump(out)).toBe(dump(work.db));
  });
});

describe('password login', () => {
  it('a password from the environment logs in to sshd, replicate and restore are exact, a wrong one is refused, and it reaches no log', async () => {
    const password = 'correct horse battery 9';
    const user = 'walship-pw';
    // A user that exists only for this sshd (private mount namespace), with password login only.
    sshd = await Sshd.start({ passwordUser: { name: user, password, uid: 64123 } });
    work = makeWorkdir();
    const remote = path.join(sshd.passwordUserHome, 'replica');
    const home = path.join(work.dir, 'home'); // no ~/.ssh, so there is no key to try first
    mkdirSync(home);
    writeFileSync(
      work.config,
      `dbs:
  - path: ${work.db}
    replicas:
      - url: sftp://${user}@127.0.0.1:${sshd.port}${remote}
        password: \${SFTP_PASSWORD}
        host-key: "${sshd.hostKeyLine}"
        sync-interval: 0s
`,
    );
    const env = { HOME: home, SFTP_PASSWORD: password };
    const walship = startWalship(['replicate', '-config', work.config], env);
    await runWriter('python', { db: work.db, from: 1, to: 30, payload: 'mixed', autocheckpoint: 100 });
    const code = await walship.stop();
    expect(code, `walship logs:\n${walship.logs()}\nsshd logs:\n${sshd.logs}`).toBe(0);
    expect(ltxFiles(remote, 0).length).toBeGreaterThan(0);
    expect(sshd.logs).toContain(`Accepted password for ${user}`);
    const out = path.join(work.dir, 'restored.db');
    const r = await runWalship(['restore', '-config', work.config, '-o', out, work.db], env);
    expect(r.stderr).toBe('');
    expect(checkRestored(out, 'mixed').k).toBe(30);
    expect(dump(out)).toBe(dump(work.db));

    const wrong = 'not the password';
    const refusedOut = path.join(work.dir, 'refused.db');
    const bad = await runWalship(['restore', '-config', work.config, '-o', refusedOut, work.db], { HOME: home, SFTP_PASSWORD: wrong });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`authentication failed for user "${user}" \\(tried password\\)`));
    expect(() => readFileSync(refusedOut)).toThrow();
    for (const text of [walship.logs(), r.stdout, r.stderr, bad.stdout, bad.stderr]) {
      expect(text).not.toContain(password);
      expect(text).not.toContain(wrong);
    }
  });
});
