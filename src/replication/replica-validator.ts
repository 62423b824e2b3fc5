// `validation-interval` and `walship validate`: each replica restored at the live database's TXID and
// compared (validation.ts), with the result logged and counted, and a fresh snapshot asked for on a
// mismatch. Remembers the TXID each replica was last validated at, so an idle database is not
// validated over and over.
import type { Logger } from 'pino';
import type { ReplicaClient } from '../replica/client.js';
import type { Metrics } from '../server/metrics.js';
import { validateReplica, type ValidationResult } from './validation.js';

/** What validation needs of a replica's shipper. */
export interface ValidationTarget {
  readonly name: string;
  readonly client: ReplicaClient;
  /** Ships everything staged; false when the deadline passed first. */
  drain(deadline: number): Promise<boolean>;
}

export interface ValidatorContext {
  dbPath: string;
  /** Where the temporary restores go (staging). */
  scratchDir: string;
  /** How long a replica may take to receive the files up to the captured TXID. */
  drainTimeoutMs: number;
  log: Logger;
  metrics: Metrics | null;
  /** Called on a mismatch: the next capture takes a snapshot. */
  onMismatch: () => void;
}

export class ReplicaValidator {
  private readonly lastValidated = new Map<string, number>();

  constructor(private readonly ctx: ValidatorContext) {}

  /**
   * Validates `targets` at one TXID, taken by `captureChecksum` (a capture with the database's
   * checksum; null when there is no database to validate). With `onlyIfChanged`, a replica already
   * validated at the current TXID `currentTxid` is skipped.
   */
  async validate(
    targets: readonly ValidationTarget[],
    currentTxid: number,
    onlyIfChanged: boolean,
    captureChecksum: () => Promise<{ txid: number; value: bigint } | null>,
  ): Promise<ValidationResult[]> {
    const { dbPath, log, metrics } = this.ctx;
    const due = onlyIfChanged ? targets.filter((s) => this.lastValidated.get(s.name) !== currentTxid || currentTxid === 0) : targets;
    if (due.length === 0) return [];
    const captured = await captureChecksum();
    if (!captured) return [];
    const results: ValidationResult[] = [];
    for (const target of due) {
      const shipped = await target.drain(Date.now() + this.ctx.drainTimeoutMs);
      const result = shipped
        ? await validateReplica(target.name, target.client, captured.txid, captured.value, `${this.ctx.scratchDir}/validate-${target.name}.db`)
        : { replica: target.name, txid: captured.txid, ok: false, expected: captured.value.toString(16), actual: null, error: 'replica did not take the files up to this TXID in time' };
      results.push(result);
      this.lastValidated.set(target.name, captured.txid);
      metrics?.validations.inc({ db: dbPath, replica: target.name, result: result.ok ? 'ok' : result.actual ? 'mismatch' : 'error' });
      if (result.ok) {
        log.info({ db: dbPath, replica: target.name, event: 'validation_ok', txid: result.txid }, 'replica validated');
      } else {
        log.error({ db: dbPath, event: 'validation_failed', ...result }, 'replica does not match the database; taking a fresh snapshot');
        this.ctx.onMismatch();
      }
    }
    return results;
  }
}
