// Builds the AWS SDK client for an s3 replica: endpoint, region, credentials, and the HTTP agents
// (keep-alive; a CA bundle for https; skip-verify, which warns on every new connection).
import type { S3Client } from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { S3Settings } from '../config/types.js';
import { loadS3Sdk } from './s3-sdk.js';

export interface S3ConnectOptions {
  /** Called for every new TLS connection made without certificate checks (skip-verify). */
  onUnverifiedConnect?: (host: string) => void;
  /** No bytes moving on a request's socket for this long fails it. */
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
}

/** An https agent that reports each new connection: skip-verify warns on every connect. */
class ReportingAgent extends https.Agent {
  constructor(
    opts: https.AgentOptions,
    private readonly report: (host: string) => void,
  ) {
    super(opts);
  }

  override createConnection(options: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    this.report(String(options.host ?? options.hostname ?? ''));
    return super.createConnection(options, callback);
  }
}

/**
 * The trusted roots for an https endpoint: Node's own plus AWS_CA_BUNDLE's (the AWS CLI and the
 * other SDKs honour it; the JavaScript SDK does not by itself). A plain-http endpoint ignores it.
 */
function caFor(s: S3Settings): string[] | undefined {
  if (!s.caBundlePath) return undefined;
  let bundle: string;
  try {
    bundle = readFileSync(s.caBundlePath, 'utf8');
  } catch (err) {
    throw new Error(`AWS_CA_BUNDLE ${s.caBundlePath}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); fix or unset it`);
  }
  return [...tls.rootCertificates, bundle];
}

export function isHttpEndpoint(s: S3Settings): boolean {
  return s.endpoint !== null && s.endpoint.toLowerCase().startsWith('http://');
}

export async function createS3Client(s: S3Settings, opts: S3ConnectOptions = {}): Promise<S3Client> {
  // The SDK otherwise prints a multi-line notice on stderr under Node 20 (its future releases will
  // need Node 22; the pinned one runs on 20). The variable is the SDK's own switch.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const agentOpts = { keepAlive: true, maxSockets: Math.max(16, s.concurrency * 4) };
  const httpAgent = new http.Agent(agentOpts);
  let httpsAgent: https.Agent | undefined;
  if (!isHttpEndpoint(s)) {
    const tlsOpts: https.AgentOptions = { ...agentOpts };
    const ca = caFor(s);
    if (ca) tlsOpts.ca = ca;
    if (s.skipVerify) {
      tlsOpts.rejectUnauthorized = false;
      httpsAgent = new ReportingAgent(tlsOpts, (host) => opts.onUnverifiedConnect?.(host));
    } else {
      httpsAgent = new https.Agent(tlsOpts);
    }
  }
  const custom = s.endpoint !== null;
  const { S3Client } = await loadS3Sdk();
  return new S3Client({
    region: s.region ?? 'us-east-1',
    // Without a region, AWS itself tells us the bucket's (a redirect the SDK follows).
    followRegionRedirects: s.region === null && !custom,
    ...(custom ? { endpoint: s.endpoint! } : {}),
    forcePathStyle: s.forcePathStyle,
    ...(s.credentials ? { credentials: { ...s.credentials } } : {}),
    maxAttempts: 3,
    // S3-compatible servers often lack the newer default checksums (aws-chunked bodies).
    requestChecksumCalculation: custom ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
    responseChecksumValidation: custom ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
    requestHandler: {
      httpAgent,
      ...(httpsAgent ? { httpsAgent } : {}),
      connectionTimeout: opts.connectTimeoutMs ?? 10_000,
      requestTimeout: opts.requestTimeoutMs ?? 60_000,
    },
  });
}
