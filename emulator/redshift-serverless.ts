/** Redshift Serverless awsJson1_1 operations: GetWorkgroup and GetCredentials. */
import { createHash } from 'node:crypto';
import { callerResourceArn, mintCallerCredentials, type CallContext } from './redshift.js';
import type { UpstreamAdmin } from './upstream-admin.js';
import type { EmulatorLogger, Reply } from './xml.js';

/** A Serverless workgroup the emulator knows; its endpoint is the upstream PostgreSQL. */
export interface EmulatorWorkgroup {
  name: string;
  host: string;
  port: number;
}

/** What the Serverless handlers need from the server. */
export interface ServerlessDeps {
  workgroups: ReadonlyMap<string, EmulatorWorkgroup>;
  admin: UpstreamAdmin | undefined;
  logger: EmulatorLogger;
}

/** The `X-Amz-Target` prefix of Redshift Serverless. */
export const serverlessTargetPrefix = 'RedshiftServerless.';
/** The awsJson1_1 media type. */
export const amzJson11 = 'application/x-amz-json-1.1';

/** An awsJson1_1 error: `{"__type": code, "message": …}`. */
export function serverlessError(status: number, code: string, message: string, requestId: string): Reply {
  return {
    status,
    contentType: amzJson11,
    body: JSON.stringify({ __type: code, message }),
    outcome: code,
    headers: { 'x-amzn-requestid': requestId, 'x-amzn-errortype': code },
  };
}

function ok(payload: object, requestId: string): Reply {
  return { status: 200, contentType: amzJson11, body: JSON.stringify(payload), outcome: 'ok', headers: { 'x-amzn-requestid': requestId } };
}

function epochSeconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

function workgroupId(name: string): string {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function getWorkgroup(input: Record<string, unknown>, deps: ServerlessDeps, ctx: CallContext): Reply {
  const name = input['workgroupName'];
  if (typeof name !== 'string' || name === '') {
    return serverlessError(400, 'ValidationException', "1 validation error detected: Value null at 'workgroupName' failed to satisfy constraint: Member must not be null", ctx.requestId);
  }
  const denied = ctx.authorize?.([['redshift-serverless:GetWorkgroup', callerResourceArn(ctx, 'redshift-serverless', `workgroup/${workgroupId(name)}`)]]);
  if (denied !== undefined) return serverlessError(403, 'AccessDeniedException', denied, ctx.requestId);
  const wg = deps.workgroups.get(name);
  if (wg === undefined) return serverlessError(404, 'ResourceNotFoundException', `Workgroup ${name} not found.`, ctx.requestId);
  const id = workgroupId(wg.name);
  return ok({
    workgroup: {
      workgroupName: wg.name,
      workgroupId: id,
      workgroupArn: callerResourceArn(ctx, 'redshift-serverless', `workgroup/${id}`),
      namespaceName: 'default',
      status: 'AVAILABLE',
      baseCapacity: 8,
      port: wg.port,
      endpoint: { address: wg.host, port: wg.port, vpcEndpoints: [] },
      // The model marks creationDate as date-time (an ISO string), unlike GetCredentials' epoch seconds.
      creationDate: '2026-01-01T00:00:00.000Z',
    },
  }, ctx.requestId);
}

async function getCredentials(input: Record<string, unknown>, deps: ServerlessDeps, ctx: CallContext): Promise<Reply> {
  const invalid = (m: string) => serverlessError(400, 'ValidationException', m, ctx.requestId);
  const name = input['workgroupName'];
  const domain = input['customDomainName'];
  if (name !== undefined && typeof name !== 'string') return invalid('workgroupName must be a string');
  if (domain !== undefined && typeof domain !== 'string') return invalid('customDomainName must be a string');
  if ((name === undefined || name === '') && (domain === undefined || domain === '')) {
    return invalid('Either workgroupName or customDomainName must be specified.');
  }
  const dbName = input['dbName'];
  if (dbName !== undefined && typeof dbName !== 'string') return invalid('dbName must be a string');
  const durationRaw = input['durationSeconds'];
  let duration = 900;
  if (durationRaw !== undefined) {
    if (typeof durationRaw !== 'number' || !Number.isInteger(durationRaw) || durationRaw < 900 || durationRaw > 3600) {
      return invalid(`1 validation error detected: Value '${String(durationRaw)}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 3600`);
    }
    duration = durationRaw;
  }
  if (name === undefined || name === '') return serverlessError(404, 'ResourceNotFoundException', `Custom domain ${String(domain)} not found.`, ctx.requestId);
  const denied = ctx.authorize?.([['redshift-serverless:GetCredentials', callerResourceArn(ctx, 'redshift-serverless', `workgroup/${workgroupId(name)}`)]]);
  if (denied !== undefined) return serverlessError(403, 'AccessDeniedException', denied, ctx.requestId);
  if (!deps.workgroups.has(name)) return serverlessError(404, 'ResourceNotFoundException', `Workgroup ${name} not found.`, ctx.requestId);
  const minted = await mintCallerCredentials(ctx, duration, deps.admin, deps.logger);
  if (minted === undefined) {
    return serverlessError(403, 'AccessDeniedException', `User: ${ctx.principal.arn} is not an IAM user or assumed role and cannot call redshift-serverless:GetCredentials`, ctx.requestId);
  }
  return ok({
    dbUser: minted.dbUser,
    dbPassword: minted.dbPassword,
    expiration: epochSeconds(minted.expiration),
    nextRefreshTime: epochSeconds(minted.nextRefreshTime),
  }, ctx.requestId);
}

/** Serverless operations the emulator implements. */
export const serverlessOperations = ['GetWorkgroup', 'GetCredentials'] as const;
export type ServerlessOperation = (typeof serverlessOperations)[number];

/** True when `op` is an implemented Serverless operation. */
export function isServerlessOperation(op: string): op is ServerlessOperation {
  return (serverlessOperations as readonly string[]).includes(op);
}

/** Parses an awsJson request body; a string is the error text. */
export function parseJsonBody(body: Buffer): Record<string, unknown> | string {
  const text = body.toString('utf8');
  if (text.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return 'The request body must be a JSON object';
    return parsed as Record<string, unknown>;
  } catch {
    return 'The request body is not valid JSON';
  }
}

/** Runs one verified Serverless call. */
export async function handleServerless(op: ServerlessOperation, input: Record<string, unknown>, deps: ServerlessDeps, ctx: CallContext): Promise<Reply> {
  return op === 'GetWorkgroup' ? getWorkgroup(input, deps, ctx) : getCredentials(input, deps, ctx);
}
