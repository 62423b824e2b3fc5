// Which container engine the container tests run on, and its command line.
//
// WALSHIP_ENGINE=docker (the default) or podman. testcontainers talks to the engine's API
// (DOCKER_HOST; test/containers/with-podman.sh points it at Podman's Docker-compatible service),
// and the tests' own one-shot commands (run, exec, pause, logs, volumes) go through that engine's
// CLI, so both halves see the same containers.
import { execFile } from 'node:child_process';

export type EngineName = 'docker' | 'podman';

function engineFromEnv(): EngineName {
  const v = process.env.WALSHIP_ENGINE ?? 'docker';
  if (v !== 'docker' && v !== 'podman') throw new Error(`WALSHIP_ENGINE=${v}: expected docker or podman`);
  if (v === 'podman' && !process.env.DOCKER_HOST) {
    throw new Error('WALSHIP_ENGINE=podman needs DOCKER_HOST at Podman\'s API socket: run the tests through test/containers/with-podman.sh');
  }
  return v;
}

export const ENGINE: EngineName = engineFromEnv();
export const isPodman = ENGINE === 'podman';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  timeoutMs?: number;
  allowFail?: boolean;
  /** Bytes for the child's stdin. */
  input?: string;
}

/** Runs a command; rejects on a non-zero exit unless `allowFail`. */
export function run(cmd: string, args: string[], opts: CliOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env }, (err, stdout, stderr) => {
      const errCode = (err as { code?: unknown } | null)?.code;
      const code = err ? (typeof errCode === 'number' ? errCode : 1) : 0;
      const result = { code, stdout: String(stdout), stderr: String(stderr) };
      if (code !== 0 && !opts.allowFail) {
        reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${result.stderr.trim() || result.stdout.trim()}`));
      } else {
        resolve(result);
      }
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** The engine's CLI (`docker ...` or `podman ...`). */
export function engine(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return run(ENGINE, args, opts);
}

/** The Docker CLI against the Docker engine itself, whatever DOCKER_HOST says (for loading images into Podman). */
export function dockerItself(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const env = { ...process.env };
  delete env.DOCKER_HOST;
  return run('docker', args, { ...opts, env });
}

/** The Podman CLI, whichever engine the suite runs on (the kube play test needs Podman itself). */
export function podman(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return run('podman', args, opts);
}
