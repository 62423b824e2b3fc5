// pino logs on stdout, one line per event: JSON by default, readable text on a terminal (or with
// logging.type: text). Secrets are never passed to the logger; the redact list is a second line of
// defence.
import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

export type LogFormat = 'json' | 'text';

/** `stderr`: log there instead (commands whose stdout is data, such as `restore -json`). */
export function createLogger(level?: string | null, format?: LogFormat | null, stderr = false): Logger {
  const options = {
    level: (process.env.LOG_LEVEL || level || 'info').toLowerCase(),
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['password', 'passphrase', 'keyPassphrase', 'privateKey', '*.password', '*.passphrase', '*.privateKey'], censor: '[redacted]' },
  };
  const stream = stderr ? process.stderr : process.stdout;
  const text = ((process.env.LOG_FORMAT || undefined) as LogFormat | undefined) ?? format ?? (stream.isTTY ? 'text' : 'json');
  if (text === 'text') {
    // Loaded only for text logs: a sidecar logging JSON never pays its few MB.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    return pino(options, pretty({ sync: true, singleLine: true, colorize: Boolean(stream.isTTY), ignore: 'pid', destination: stderr ? 2 : 1 }));
  }
  return stderr ? pino(options, pino.destination({ fd: 2, sync: true })) : pino(options);
}
