/** The emulator's HTTP server: routes STS presigned GETs, awsQuery POSTs and awsJson POSTs; applies faults. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { CallCounters, FaultRegistry, type AppliedFault, type FaultSpec } from './faults.js';
import { PolicyTable } from './iam-policy.js';
import { PrincipalTable, type EmulatorPrincipal, type PrincipalRecord } from './principals.js';
import { handleRedshift, isRedshiftAction, type CallContext, type EmulatorCluster } from './redshift.js';
import { amzJson11, handleServerless, isServerlessOperation, parseJsonBody, serverlessError, serverlessTargetPrefix, type EmulatorWorkgroup } from './redshift-serverless.js';
import { authorizationService, headerMap, parseRawQuery, verifyHeaderSigned, verifyPresigned, type ReceivedRequest, type SigV4Failure } from './sigv4.js';
import { assumeRole, getCallerIdentityReply } from './sts.js';
import { createPgUpstreamAdmin, type UpstreamAdmin } from './upstream-admin.js';
import { newRequestId, type EmulatorLogger, type Reply } from './xml.js';
import { protocolError, readBody, serverErrorReply, throttleReply, type Protocol } from './replies.js';

/** Options of startEmulator. */
export interface EmulatorOptions {
  principals: EmulatorPrincipal[];
  clusters?: EmulatorCluster[];
  workgroups?: EmulatorWorkgroup[];
  /** Identity-based IAM policies by principal ARN (role ARN for assumed roles); principals without one may call everything. */
  policies?: Record<string, unknown>;
  /** Admin connection to the upstream PostgreSQL (or a ready UpstreamAdmin, which the caller closes); absent = no upstream effect. */
  upstreamAdmin?: { connectionString: string; ssl?: ConnectionOptions } | UpstreamAdmin;
  /**
   * GetClusterCredentials hands out a role's password again while it stays valid for over a minute, extending its
   * VALID UNTIL, instead of a new one per call (default false: every call rotates). For several proxies on one
   * emulator: real Redshift keeps earlier temporary passwords valid, but PostgreSQL keeps one password per role.
   */
  keepValidPasswords?: boolean;
  /** Clock for signature windows and expirations (default Date.now). */
  nowMs?: () => number;
  /** Listen host (default 127.0.0.1). */
  host?: string;
  /** Listen port (default 0 = any free port). */
  port?: number;
  logger?: EmulatorLogger;
}

/** The last GetCallerIdentity request as received (header names lower-case). */
export interface RecordedStsRequest {
  headers: Record<string, string>;
  host: string;
}

/** A running emulator. */
export interface Emulator {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  counters: { get(op: string, outcome?: string): number; total(op: string): number; reset(): void; snapshot(): Record<string, number> };
  faults: { set(op: string, fault: FaultSpec): void; clear(op?: string): void };
  lastStsRequest?: RecordedStsRequest;
  addPrincipal(p: EmulatorPrincipal): void;
  addCluster(c: EmulatorCluster): void;
  addWorkgroup(w: EmulatorWorkgroup): void;
  /** Sets (undefined: removes) the identity-based policy of a principal ARN (role ARN for its sessions), enforced on the credentials, discovery and AssumeRole calls. */
  setIdentityPolicy(principalArn: string, policy: unknown): void;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const silentLogger: EmulatorLogger = { info() {}, warn() {} };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Starts the emulator on 127.0.0.1 (port 0 by default). */
export async function startEmulator(opts: EmulatorOptions): Promise<Emulator> {
  const passwords = opts.keepValidPasswords === true ? new Map<string, { password: string; validUntilMs: number }>() : undefined;
  const principals = new PrincipalTable();
  for (const p of opts.principals) principals.add(p);
  const clusters = new Map((opts.clusters ?? []).map((c) => [c.identifier, c] as const));
  const workgroups = new Map((opts.workgroups ?? []).map((w) => [w.name, w] as const));
  const policies = new PolicyTable();
  for (const [arn, doc] of Object.entries(opts.policies ?? {})) policies.set(arn, doc);
  const authorizeAs = (p: PrincipalRecord) => (checks: ReadonlyArray<readonly [string, string]>) => policies.authorize(p.arn, checks);
  const nowMs = opts.nowMs ?? Date.now;
  const logger = opts.logger ?? silentLogger;
  const counters = new CallCounters();
  const faults = new FaultRegistry();
  let admin: UpstreamAdmin | undefined;
  let ownsAdmin = false;
  if (opts.upstreamAdmin !== undefined) {
    if ('issueDbUserLogin' in opts.upstreamAdmin) admin = opts.upstreamAdmin;
    else {
      admin = createPgUpstreamAdmin(opts.upstreamAdmin);
      ownsAdmin = true;
    }
  }
  const lookup = (akid: string): PrincipalRecord | undefined => principals.get(akid);
  const emulator: Partial<Emulator> = {};

  const route = async (req: http.IncomingMessage, received: ReceivedRequest, requestId: string): Promise<{ op: string; protocol: Protocol; run: () => Promise<Reply> }> => {
    const headers = headerMap(received.rawHeaders);
    const unknown = (protocol: Protocol, code: string, message: string) => ({
      op: 'Unknown',
      protocol,
      run: async () => protocolError(protocol, 400, code, message, requestId),
    });
    const stsProtocol: Protocol = (headers.get('accept') ?? '').includes('application/json') ? 'sts-json' : 'sts-xml';
    const denied = (protocol: Protocol, f: SigV4Failure): Reply => {
      if (protocol !== 'serverless') return protocolError(protocol, f.status, f.code, f.message, requestId);
      // awsJson services name signature failures differently from awsQuery ones.
      const code = f.code === 'SignatureDoesNotMatch' ? 'InvalidSignatureException' : f.code === 'InvalidClientTokenId' ? 'UnrecognizedClientException' : f.code;
      return serverlessError(f.status, code, f.message, requestId);
    };

    if (req.method === 'GET') {
      const action = (parseRawQuery(received.rawQuery) ?? []).find(([n]) => n === 'Action')?.[1];
      if (action !== 'GetCallerIdentity') return unknown(stsProtocol, 'InvalidAction', `Could not find operation ${action ?? ''} for version 2011-06-15`);
      emulator.lastStsRequest = { headers: Object.fromEntries(headers), host: headers.get('host') ?? '' };
      return {
        op: 'GetCallerIdentity',
        protocol: stsProtocol,
        run: async () => {
          const v = verifyPresigned(received, lookup, nowMs(), 'sts');
          return v.ok ? getCallerIdentityReply(v.principal, requestId, stsProtocol === 'sts-json') : denied(stsProtocol, v);
        },
      };
    }
    if (req.method !== 'POST') return unknown('sts-xml', 'InvalidAction', `Method ${req.method ?? ''} is not supported`);

    const target = headers.get('x-amz-target');
    if (target !== undefined) {
      const op = target.startsWith(serverlessTargetPrefix) ? target.slice(serverlessTargetPrefix.length) : '';
      if (!isServerlessOperation(op)) return unknown('serverless', 'UnknownOperationException', `Unknown operation ${target}`);
      return {
        op,
        protocol: 'serverless',
        run: async () => {
          const v = verifyHeaderSigned(received, lookup, nowMs(), 'redshift-serverless');
          if (!v.ok) return denied('serverless', v);
          const input = parseJsonBody(received.body);
          if (typeof input === 'string') return serverlessError(400, 'SerializationException', input, requestId);
          const ctx: CallContext = { principal: v.principal, region: v.region, nowMs: nowMs(), requestId, authorize: authorizeAs(v.principal) };
          return handleServerless(op, input, { workgroups, admin, logger }, ctx);
        },
      };
    }

    const params = new Map(new URLSearchParams(received.body.toString('utf8')));
    const action = params.get('Action');
    const service = authorizationService(headers.get('authorization'));
    if (service === 'sts' || (service === undefined && params.get('Version') === '2011-06-15')) {
      if (action !== 'AssumeRole' && action !== 'GetCallerIdentity') return unknown('sts-xml', 'InvalidAction', `Could not find operation ${action ?? ''} for version 2011-06-15`);
      const protocol: Protocol = action === 'GetCallerIdentity' ? stsProtocol : 'sts-xml';
      return {
        op: action,
        protocol,
        run: async () => {
          const v = verifyHeaderSigned(received, lookup, nowMs(), 'sts');
          if (!v.ok) return denied(protocol, v);
          if (action === 'GetCallerIdentity') return getCallerIdentityReply(v.principal, requestId, protocol === 'sts-json');
          return assumeRole(params, v.principal, principals, nowMs(), requestId, authorizeAs(v.principal));
        },
      };
    }
    if (!isRedshiftAction(action)) return unknown('redshift', 'InvalidAction', `Could not find operation ${action ?? ''} for version 2012-12-01`);
    return {
      op: action,
      protocol: 'redshift',
      run: async () => {
        const v = verifyHeaderSigned(received, lookup, nowMs(), 'redshift');
        if (!v.ok) return denied('redshift', v);
        const ctx: CallContext = { principal: v.principal, region: v.region, nowMs: nowMs(), requestId, authorize: authorizeAs(v.principal) };
        return handleRedshift(action, params, { clusters, admin, logger, ...(passwords === undefined ? {} : { passwords }) }, ctx);
      },
    };
  };

  const send = (res: http.ServerResponse, reply: Reply, fault: AppliedFault | undefined): void => {
    const body = Buffer.from(reply.body, 'utf8');
    res.writeHead(reply.status, { ...reply.headers, 'content-type': reply.contentType, 'content-length': String(body.length) });
    const rate = fault?.dripBytesPerSecond;
    if (rate === undefined || rate <= 0) {
      res.end(body);
      return;
    }
    const intervalMs = Math.max(20, Math.floor(1000 / rate));
    const chunkBytes = Math.max(1, Math.round((rate * intervalMs) / 1000));
    let offset = 0;
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer);
      res.write(body.subarray(offset, offset + chunkBytes));
      offset += chunkBytes;
      if (offset >= body.length) {
        clearInterval(timer);
        res.end();
      }
    }, intervalMs);
    res.on('close', () => clearInterval(timer));
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const requestId = newRequestId();
    const body = await readBody(req);
    if (body === 'aborted') return;
    if (body === 'oversize') {
      res.writeHead(413, { connection: 'close' }).end();
      return;
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const received: ReceivedRequest = {
      method: req.method ?? 'GET',
      path: q < 0 ? url : url.slice(0, q),
      rawQuery: q < 0 ? '' : url.slice(q + 1),
      rawHeaders: req.rawHeaders,
      body,
    };
    const { op, protocol, run } = await route(req, received, requestId);
    const fault = op === 'Unknown' ? undefined : faults.take(op);
    if (fault !== undefined && fault.latencyMs > 0) await sleep(fault.latencyMs);
    let reply: Reply;
    if (fault?.throttle) reply = throttleReply(protocol, requestId);
    else if (fault?.status5xx !== undefined) reply = serverErrorReply(protocol, fault.status5xx, requestId);
    else if (fault?.redirectTo !== undefined) {
      counters.record(op, 'redirect');
      res.writeHead(302, { location: fault.redirectTo, 'content-length': '0' }).end();
      return;
    } else if (fault?.oversizeBytes !== undefined) {
      reply = { status: 200, contentType: fault.contentType ?? 'application/json', body: `{"GetCallerIdentityResponse":${' '.repeat(Math.max(0, fault.oversizeBytes - 30))}}`, outcome: 'fault' };
    } else if (fault?.body !== undefined) {
      reply = { status: 200, contentType: fault.contentType ?? (protocol === 'serverless' ? amzJson11 : protocol === 'sts-json' ? 'application/json' : 'text/xml'), body: fault.body, outcome: 'fault' };
    } else {
      try {
        reply = await run();
      } catch (err) {
        logger.warn({ op, err: err instanceof Error ? err.message : String(err) }, 'emulator operation failed');
        reply = serverErrorReply(protocol, 500, requestId);
      }
      if (fault?.contentType !== undefined) reply = { ...reply, contentType: fault.contentType, outcome: 'fault' };
    }
    counters.record(op, reply.outcome);
    send(res, reply, fault);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'emulator request failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      if (ownsAdmin && admin !== undefined) await admin.close();
    })();
    return closing;
  };
  Object.assign(emulator, {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    counters,
    faults,
    addPrincipal: (p: EmulatorPrincipal) => principals.add(p),
    addCluster: (c: EmulatorCluster) => clusters.set(c.identifier, c),
    addWorkgroup: (w: EmulatorWorkgroup) => workgroups.set(w.name, w),
    setIdentityPolicy: (principalArn: string, policy: unknown) => policies.set(principalArn, policy),
    close,
    [Symbol.asyncDispose]: close,
  });
  logger.info({ url: emulator.url }, 'AWS emulator listening');
  return emulator as Emulator;
}
