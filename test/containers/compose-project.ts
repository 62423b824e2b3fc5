// One compose.yaml project of a test: the compose CLI of the engine under test, the containers of
// its services, and waiting for a one-shot to finish.
//
// On Docker: the standalone docker-compose (1.29). Profiles are its `--profile` option. On Podman:
// podman-compose 1.0.3, which knows no profiles at all (it ignores `profiles:` and would start
// every service on a bare `up`): services are always named there, and `profiles` is dropped.
// podman-compose also ignores depends_on conditions, which is why the tests bring projects up in
// steps on Podman (see compose.test.ts and the README's Podman section).
import { execFile } from 'node:child_process';
import { expect } from 'vitest';
import { engine, exitCodeOf, isPodman, repoRoot, waitFor } from './docker.js';

export interface ComposeResult {
  code: number;
  out: string;
}

export class ComposeProject {
  constructor(
    readonly name: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** `docker-compose -p NAME -f compose.yaml [--profile P]... ARGS` (podman-compose: no profiles). */
  run(args: string[], opts: { profiles?: string[]; timeoutMs?: number } = {}): Promise<ComposeResult> {
    const profiles = isPodman ? [] : (opts.profiles ?? []).flatMap((p) => ['--profile', p]);
    const cmd = isPodman ? 'podman-compose' : 'docker-compose';
    return new Promise((resolve) => {
      execFile(cmd, ['-p', this.name, '-f', 'compose.yaml', ...profiles, ...args], { cwd: repoRoot, env: this.env, timeout: opts.timeoutMs ?? 180_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code;
        resolve({ code: err ? (typeof code === 'number' ? code : 1) : 0, out: String(stdout) + String(stderr) });
      });
    });
  }

  /** run(), expecting exit 0 (the output is the failure message). */
  async step(args: string[], opts: { profiles?: string[]; timeoutMs?: number } = {}): Promise<void> {
    const r = await this.run(args, opts);
    expect(r.code, `${isPodman ? 'podman-compose' : 'docker-compose'} ${args.join(' ')}: ${r.out}`).toBe(0);
  }

  /** The id (name, on Podman) of a service's container (the one-shots included, once they ran). */
  async containerOf(service: string): Promise<string> {
    // podman-compose 1.0.3 has no `ps -q SERVICE`; it names containers <project>_<service>_1.
    if (isPodman) return `${this.name}_${service}_1`;
    // By compose's labels, so that a service of any profile is found.
    const r = await engine(['ps', '-a', '-q', '--filter', `label=com.docker.compose.project=${this.name}`, '--filter', `label=com.docker.compose.service=${service}`]);
    const id = r.stdout.trim().split('\n')[0];
    if (!id) throw new Error(`no container for service ${service}`);
    return id;
  }

  async status(service: string): Promise<string> {
    return (await engine(['inspect', '-f', '{{.State.Status}}', await this.containerOf(service)], { allowFail: true })).stdout.trim();
  }

  /** Waits for a one-shot service's container to exit, and returns its exit code. */
  async exited(service: string, timeoutMs = 60_000): Promise<number> {
    await waitFor(`${service} to finish`, async () => ((await this.status(service)) === 'exited' ? true : undefined), timeoutMs);
    return exitCodeOf(await this.containerOf(service));
  }

  /** Removes the project's containers, networks and volumes, whatever state it is in. */
  async down(profiles: string[]): Promise<void> {
    await this.run(isPodman ? ['down', '-v', '-t', '10'] : ['down', '-v', '--remove-orphans', '-t', '10'], { profiles });
    // podman-compose 1.0.3's down leaves the project's network.
    if (isPodman) await engine(['network', 'rm', '-f', `${this.name}_default`], { allowFail: true });
  }
}
