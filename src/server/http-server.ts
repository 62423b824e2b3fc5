// The HTTP listener on `addr`: /metrics (Prometheus text), /healthz, /readyz and /status (JSON).
import http from 'node:http';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';

export interface Probe {
  ok: boolean;
  detail: unknown;
}

export interface HttpHandlers {
  metrics: Metrics;
  health: () => Probe;
  ready: () => Probe;
  status: () => unknown;
  /** Runs validation of one database now (all of them without `db`). */
  validate: (db: string | null) => Promise<{ ok: boolean; results: unknown[] }>;
}

export function parseAddr(addr: string): { host: string | undefined; port: number } {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '');
  return { host: host === '' ? undefined : host, port: Number(addr.slice(i + 1)) };
}

/** The URL a local client uses to reach a listener on `addr` ("" and wildcard hosts mean loopback). */
export function localBaseUrl(addr: string): string {
  const { host, port } = parseAddr(addr);
  const h = !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

export async function startHttpServer(addr: string, handlers: HttpHandlers, log: Logger): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const [url, query] = (req.url ?? '/').split('?') as [string, string | undefined];
    const json = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    switch (url) {
      case '/metrics':
        handlers.metrics.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': handlers.metrics.registry.contentType });
            res.end(text);
          },
          (err: unknown) => json(500, { error: (err as Error).message }),
        );
        return;
      case '/healthz': {
        const p = handlers.health();
        json(p.ok ? 200 : 503, { ok: p.ok, detail: p.detail });
        return;
      }
      case '/readyz': {
        const p = handlers.ready();
        json(p.ok ? 200 : 503, { ok: p.ok, detail: p.detail });
        return;
      }
      case '/status':
        json(200, handlers.status());
        return;
      case '/validate':
        handlers.validate(new URLSearchParams(query ?? '').get('db')).then(
          (r) => json(200, r),
          (err: unknown) => json(500, { error: (err as Error).message }),
        );
        return;
      default:
        json(404, { error: 'not found', paths: ['/metrics', '/healthz', '/readyz', '/status', '/validate'] });
    }
  });
  const { host, port } = parseAddr(addr);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  log.info({ event: 'http_listening', addr }, 'serving /metrics, /healthz, /readyz and /status');
  return server;
}
