// Docker HEALTHCHECK and Kubernetes exec probe for the walship image (node is there; curl is not).
//
//   node /app/healthcheck.mjs            asks /healthz (HEALTHCHECK, startup and liveness probes)
//   node /app/healthcheck.mjs /readyz    asks /readyz (readiness probe)
//
// It reads PID 1's command line. For `walship replicate`, and for a follower (`walship restore -f`
// or -follow), it finds the config (-config/--config, else $WALSHIP_CONFIG, else /etc/walship.yml)
// and its top-level `addr:` (a follower's -addr flag wins over the config), and asks
// http://HOST:PORT/healthz, or the path given as the argument (HOST 127.0.0.1 when addr has none
// or a wildcard). Exit 0 is healthy. A follower serves only once its first restore is done, so
// until then it is unhealthy and not ready.
//
// Tolerant by design: when PID 1 is neither (a one-shot restore, ltx, version), or the config sets
// no addr, there is nothing to ask, and it reports healthy. HEALTHCHECK is only meaningful with addr.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import YAML from 'yaml';

function done(code, message) {
  if (message) process.stdout.write(`${message}\n`);
  process.exit(code);
}

let argv = [];
try {
  argv = readFileSync('/proc/1/cmdline', 'utf8').split('\0').filter(Boolean);
} catch {
  done(0, 'cannot read /proc/1/cmdline; nothing to check');
}
const FOLLOW_FLAGS = new Set(['-f', '--f', '-follow', '--follow', '-f=true', '--f=true', '-follow=true', '--follow=true']);
let cmdIndex = argv.findIndex((a) => a === 'replicate');
const restoreIndex = argv.findIndex((a) => a === 'restore');
const following = cmdIndex < 0 && restoreIndex >= 0 && argv.slice(restoreIndex + 1).some((a) => FOLLOW_FLAGS.has(a));
if (following) cmdIndex = restoreIndex;
if (cmdIndex < 0) done(0, 'neither replicating nor following; nothing to check');

/** The value of -NAME/--NAME (as `-NAME V` or `-NAME=V`) after the command, or null. */
function flag(name) {
  let value = null;
  const re = new RegExp(`^--?${name}(?:=(.*))?$`);
  for (let i = cmdIndex + 1; i < argv.length; i++) {
    const m = re.exec(argv[i]);
    if (m) value = m[1] ?? argv[i + 1] ?? null;
  }
  return value;
}

let configFile = flag('config');
let addr = following ? flag('addr') : null;
// The ad-hoc form (replicate DB_PATH URL...) has no config and so no addr.
if (!addr && !following && !configFile && argv.slice(cmdIndex + 1).some((a) => !a.startsWith('-'))) done(0, 'no config; nothing to check');
configFile ??= process.env.WALSHIP_CONFIG || '/etc/walship.yml';

if (!addr) try {
  const noExpand = argv.includes('-no-expand-env') || argv.includes('--no-expand-env');
  let text = readFileSync(configFile, 'utf8');
  if (!noExpand) {
    text = text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, a, b) => process.env[a ?? b] ?? '');
  }
  const doc = YAML.parse(text);
  addr = doc && typeof doc === 'object' && doc.addr ? String(doc.addr) : null;
} catch (err) {
  done(1, `cannot read config ${configFile}: ${err.message}`);
}
if (!addr) done(0, 'addr not configured; nothing to check');

const colon = addr.lastIndexOf(':');
let host = addr.slice(0, colon).replace(/^\[|\]$/g, '');
const port = Number(addr.slice(colon + 1));
if (host === '' || host === '0.0.0.0') host = '127.0.0.1';
if (host === '::') host = '::1';

const probePath = process.argv[2] ?? '/healthz';
if (probePath !== '/healthz' && probePath !== '/readyz') done(1, `unknown path ${probePath}: /healthz or /readyz`);
const req = http.get({ host, port, path: probePath, timeout: 4000 }, (res) => {
  res.resume();
  if (res.statusCode === 200) done(0, `${probePath} ${res.statusCode}`);
  done(1, `${probePath} answered ${res.statusCode}`);
});
req.on('timeout', () => req.destroy(new Error('timed out')));
req.on('error', (err) => done(1, `http://${host}:${port}${probePath}: ${err.message}`));
