// A follower keeps a database current from a replica until it is stopped: it polls the replica,
// decodes and checks each new file into a local spool, then applies it as one transaction readers
// see whole (follower-db.ts). When retention has removed what would continue it, it applies the
// newest snapshot and its chain the same way, in place: readers that hold the file open see one
// more transaction, not a file swapped under them.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { LtxFile, LtxStream } from '../ltx/decoder.js';
import { LtxFormatError } from '../ltx/format.js';
import type { LtxFileInfo, ReplicaClient } from '../replica/client.js';
import { describeFile, LEVELS } from '../replica/layout.js';
import { listReplica } from '../replica/listing.js';
import { ChainCheck } from '../restore/chain-check.js';
import { Backoff } from '../util/backoff.js';
import { Wakeup } from '../util/wakeup.js';
import { FollowError, FollowerDb } from './follower-db.js';
import { PageSpool } from './page-spool.js';
import { stepFromLevel0, stepFromListing, type FollowState, type FollowStep } from './plan.js';
import { followStateDir, writePosition, type FollowPosition } from './position.js';

/** Files up to this size are downloaded in one request; larger ones are streamed. */
const WHOLE_FILE_MAX = 16 * 1024 * 1024;

export interface FollowerOptions {
  client: ReplicaClient;
  /** The replica's name in the config, or its URL. */
  replicaName: string;
  dbPath: string;
  intervalMs: number;
  /** How long an apply waits for readers to let go of the database. */
  busyTimeoutMs: number;
  log: Logger;
}

export interface FollowerStatus {
  db: string;
  replica: string;
  txid: number;
  replicaTxid: number;
  /** Seconds since the last moment the follower is known to have held everything the replica had. */
  lagSeconds: number;
  lastPollAt: string | null;
  lastError: string | null;
  appliedFiles: number;
  resyncs: number;
}

export class Follower {
  private state: FollowState;
  private replicaTxid = 0;
  /** The follower held everything the replica had as of this time (ms). */
  private currentAsOf: number;
  private lastPollAt: number | null = null;
  private lastError: string | null = null;
  private appliedFiles = 0;
  private resyncs = 0;
  private pollsSinceFull = Number.POSITIVE_INFINITY;
  private lastFullWasCaughtUp = false;
  private behindLogged = false;
  private readonly wake = new Wakeup();

  private constructor(
    private readonly opts: FollowerOptions,
    private readonly db: FollowerDb,
    position: FollowPosition,
  ) {
    this.state = { txid: position.txid, mustReach: Math.max(position.txid, position.applying?.maxTXID ?? 0) };
    this.currentAsOf = Date.now();
  }

  static async open(opts: FollowerOptions, position: FollowPosition): Promise<Follower> {
    return new Follower(opts, await FollowerDb.open(opts.dbPath, opts.busyTimeoutMs), position);
  }

  status(now = Date.now()): FollowerStatus {
    return {
      db: this.opts.dbPath,
      replica: this.opts.replicaName,
      txid: this.state.txid,
      replicaTxid: Math.max(this.replicaTxid, this.state.txid),
      lagSeconds: Math.max(0, Math.round(now - this.currentAsOf) / 1000),
      lastPollAt: this.lastPollAt === null ? null : new Date(this.lastPollAt).toISOString(),
      lastError: this.lastError,
      appliedFiles: this.appliedFiles,
      resyncs: this.resyncs,
    };
  }

  /**
   * Polls and applies until `signal` aborts; a file being applied is finished first. Failures are
   * retried with backoff (one log line per distinct error); a permanent one is thrown.
   */
  async run(signal: AbortSignal): Promise<void> {
    // A short cap: a reader holding the file a moment, or a file not there yet, is gone in seconds, and a
    // follower waiting half a minute after each would fall that far behind.
    const backoff = new Backoff(250, 5_000);
    while (!signal.aborted) {
      let more = false;
      try {
        more = await this.pollOnce(signal);
        backoff.reset();
        this.lastError = null;
      } catch (err) {
        if (err instanceof FollowError && err.permanent) throw err;
        const message = (err as Error).message;
        if (message !== this.lastError) this.opts.log.warn({ event: 'follow_error', db: this.opts.dbPath, replica: this.opts.replicaName, err: message }, 'follow: cannot apply the replica; retrying');
        this.lastError = message;
        await this.wake.wait(backoff.next(), signal);
        continue;
      }
      if (!more) await this.wake.wait(this.opts.intervalMs, signal);
    }
  }

  /** One poll: returns true when it applied something (poll again at once). */
  async pollOnce(signal?: AbortSignal): Promise<boolean> {
    const polledAt = Date.now();
    const step = await this.nextStep();
    this.lastPollAt = polledAt;
    this.replicaTxid = step.replicaTxid;
    switch (step.kind) {
      case 'caught-up':
        this.currentAsOf = polledAt;
        return false;
      case 'replica-behind':
        if (!this.behindLogged) {
          this.opts.log.error(
            { event: 'follow_replica_behind', db: this.opts.dbPath, replica: this.opts.replicaName, txid: this.state.txid, replicaTxid: step.replicaTxid },
            'the replica ends before this follower: it holds another history; not following it',
          );
          this.behindLogged = true;
        }
        throw new Error(`replica ${this.opts.client.location} ends at TXID ${step.replicaTxid}, before this follower's ${this.state.mustReach}`);
      case 'resync':
        this.resyncs++;
        this.opts.log.warn(
          { event: 'follow_resync', db: this.opts.dbPath, replica: this.opts.replicaName, txid: this.state.txid, snapshot: describeFile(step.files[0]!), replicaTxid: step.replicaTxid },
          'no file continues this follower (retention removed them); applying the newest snapshot in place',
        );
        break;
      case 'apply':
        break;
    }
    this.behindLogged = false;
    this.currentAsOf = Math.min(this.currentAsOf, step.files[0]!.createdAt.getTime());
    for (const f of step.files) {
      if (signal?.aborted) break;
      await this.applyFile(f);
    }
    return true;
  }

  private async nextStep(): Promise<FollowStep> {
    const l0 = await this.opts.client.listLtxFiles(LEVELS[0]);
    this.pollsSinceFull++;
    const quick = stepFromLevel0(l0, this.state, this.pollsSinceFull, this.lastFullWasCaughtUp);
    if (quick) return quick;
    const listing = await listReplica(this.opts.client);
    this.pollsSinceFull = 0;
    const step = stepFromListing(listing, this.state);
    this.lastFullWasCaughtUp = step.kind === 'caught-up';
    return step;
  }

  private async applyFile(info: LtxFileInfo): Promise<void> {
    const where = `${this.opts.client.location}/${describeFile(info)}`;
    const dir = followStateDir(this.opts.dbPath);
    await fsp.mkdir(dir, { recursive: true });
    const spool = await PageSpool.create(path.join(dir, 'pending.pages'), this.db.pageSize);
    let stream: LtxStream | null = null;
    try {
      const file = info.size <= WHOLE_FILE_MAX ? LtxFile.open(await this.opts.client.readLtxFile(info)) : (stream = await LtxStream.open(this.opts.client.streamLtxFile(info)));
      const h = file.header;
      try {
        if (h.minTXID !== info.minTXID || h.maxTXID !== info.maxTXID) throw new LtxFormatError(`header says TXIDs ${h.minTXID}-${h.maxTXID}, name says ${info.minTXID}-${info.maxTXID}`);
        if (h.minTXID !== 1 && h.minTXID > this.state.txid + 1) throw new LtxFormatError(`does not continue from TXID ${this.state.txid}`);
        const check = ChainCheck.from(await this.db.pages()).begin(h);
        for await (const page of file.pages()) {
          check.page(page.pgno);
          await spool.add(page.pgno, page.data);
        }
        check.finish();
      } catch (err) {
        if (err instanceof LtxFormatError) throw new Error(`corrupt replica file ${where}: ${err.message}`);
        throw err;
      }
      await spool.flush();
      await writePosition(this.opts.dbPath, { replica: this.opts.client.location, txid: this.state.txid, applying: { level: info.level, minTXID: info.minTXID, maxTXID: info.maxTXID } });
      await this.db.apply(h, spool);
      this.state = { txid: info.maxTXID, mustReach: Math.max(this.state.mustReach, info.maxTXID) };
      await writePosition(this.opts.dbPath, { replica: this.opts.client.location, txid: this.state.txid });
      this.appliedFiles++;
      this.opts.log.debug({ event: 'follow_applied', db: this.opts.dbPath, file: describeFile(info), txid: this.state.txid }, 'applied');
    } finally {
      await stream?.close();
      await spool.dispose();
    }
  }

  /** Wakes a waiting poll at once (a stop). */
  interrupt(): void {
    this.wake.notify();
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
