// pino JSON logs on stdout, one line per event. Secrets are never passed to the logger; the redact
// list is a second line of defence.
import pino, { type Logger } from 'pino';

export function createLogger(level?: string | null): Logger {
  return pino({
    level: (process.env.LOG_LEVEL || level || 'info').toLowerCase(),
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['password', 'passphrase', 'keyPassphrase', 'privateKey', '*.password', '*.passphrase', '*.privateKey'], censor: '[redacted]' },
  });
}
