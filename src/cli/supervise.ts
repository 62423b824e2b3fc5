// Running replication until it should stop: SIGTERM/SIGINT, or the -exec child's exit. Shared by
// `replicate` and by a follower that took over (`restore -f -takeover -exec CMD`), so the application
// is started the same way wherever this process becomes the primary.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import type { ReplicationService } from '../replication/service.js';
import { EXIT_FAILURE, EXIT_OK } from './errors.js';

export type StopReason = { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'child'; code: number };

export class Supervisor {
  private child: ChildProcess | null = null;
  private resolveStop: (r: StopReason) => void = () => undefined;
  /** Resolves at the first signal (with no child running) or when the child exits. */
  readonly stopped: Promise<StopReason>;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    // With -exec the child decides when to stop: it gets the signal, and its exit ends walship.
    if (this.child && this.child.exitCode === null) this.child.kill(signal);
    else this.resolveStop({ kind: 'signal', signal });
  };

  /** Listens at once: a SIGTERM during start-up must still end in a clean, shipped stop. */
  constructor(early: readonly NodeJS.Signals[] = []) {
    this.stopped = new Promise<StopReason>((resolve) => (this.resolveStop = resolve));
    process.on('SIGTERM', this.onSignal);
    process.on('SIGINT', this.onSignal);
    for (const signal of early) this.onSignal(signal);
  }

  /** Starts the application (`/bin/sh -c CMD`); its exit stops walship with its status. */
  startChild(exec: string, log: Logger): void {
    const child = spawn('/bin/sh', ['-c', exec], { stdio: 'inherit' });
    this.child = child;
    log.info({ event: 'exec_started', pid: child.pid }, 'started the application');
    child.on('exit', (code, signal) => this.resolveStop({ kind: 'child', code: code ?? 128 + signalNumber(signal) }));
    child.on('error', (err) => {
      log.error({ event: 'exec_failed', err: err.message }, 'could not start the application');
      this.resolveStop({ kind: 'child', code: EXIT_FAILURE });
    });
  }

  dispose(): void {
    process.off('SIGTERM', this.onSignal);
    process.off('SIGINT', this.onSignal);
  }
}

/**
 * Runs a started service (and the -exec child, if any) until the stop, then ships everything
 * committed. Returns the exit status: the child's when it failed, else 0 if all was shipped.
 */
export async function superviseReplication(service: ReplicationService, exec: string | null, sup: Supervisor, log: Logger): Promise<number> {
  if (exec) sup.startChild(exec, log);
  const reason = await sup.stopped;
  log.info({ event: 'stopping', ...reason }, 'shutting down: shipping everything committed');
  const shipped = await service.shutdown();
  if (reason.kind === 'child' && reason.code !== 0) return reason.code;
  return shipped ? EXIT_OK : EXIT_FAILURE;
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return (signal && numbers[signal]) || 0;
}
