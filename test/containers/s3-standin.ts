// The S3 server image compose.yaml's `s3` profile names (versitygw's official image, pinned), as a
// local stand-in: no container registry can be reached here, so the image a user would pull is
// built under the same name from the versitygw binary that scripts/setup-s3.sh builds into
// .tools/bin (the same pinned version), on the debian:bookworm-slim stand-in (.ci/docker-setup.sh).
// It mirrors what compose.yaml relies on in the official image: the binary at /app/versitygw as
// the entrypoint, a shell (compose.yaml makes the bucket directory before exec'ing it), root.
// Built only when the engine has no image of that name; a real pulled image is used as it is.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The version scripts/setup-s3.sh pins, and the tag compose.yaml names by default. */
export const VERSITYGW_VERSION = 'v1.8.0';

/** compose.yaml's default for ${VERSITYGW_IMAGE}; the tests pass the same name explicitly. */
export const VERSITYGW_IMAGE = process.env.VERSITYGW_IMAGE ?? `versity/versitygw:${VERSITYGW_VERSION}`;

const STANDIN_LABEL = `walship.standin=versitygw-${VERSITYGW_VERSION}`;

/**
 * A build context for the stand-in: the binary and a Dockerfile. Fails, naming the fix, when
 * .tools/bin holds no versitygw of the pinned version. The caller removes the directory.
 */
export function versitygwStandinContext(repoRoot: string): string {
  const bin = path.join(repoRoot, '.tools', 'bin', 'versitygw');
  const stamp = path.join(repoRoot, '.tools', 'bin', '.versitygw-version');
  if (!existsSync(bin)) throw new Error(`no ${bin} to build the ${VERSITYGW_IMAGE} stand-in from: run scripts/setup-s3.sh (scripts/setup-debian.sh calls it; it needs Go)`);
  const version = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : 'unknown';
  if (version !== VERSITYGW_VERSION) throw new Error(`${bin} is versitygw ${version}, the stand-in for ${VERSITYGW_IMAGE} needs ${VERSITYGW_VERSION}: run scripts/setup-s3.sh`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'walship-versitygw-'));
  copyFileSync(bin, path.join(dir, 'versitygw'));
  writeFileSync(
    path.join(dir, 'Dockerfile'),
    [
      '# Stand-in for versitygw\'s official image (test/containers/s3-standin.ts); built here only.',
      'FROM debian:bookworm-slim',
      'COPY versitygw /app/versitygw',
      `LABEL ${STANDIN_LABEL}`,
      'ENTRYPOINT ["/app/versitygw"]',
      '',
    ].join('\n'),
  );
  return dir;
}

export function removeContext(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
