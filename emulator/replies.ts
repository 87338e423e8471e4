/** What the emulator's router answers with besides the APIs' own replies: error shapes per protocol, injected faults, bounded bodies. */
import type http from 'node:http';
import { redshiftError } from './redshift.js';
import { serverlessError } from './redshift-serverless.js';
import { stsError } from './sts.js';
import type { Reply } from './xml.js';

/** The wire format an answer is written in. */
export type Protocol = 'sts-json' | 'sts-xml' | 'redshift' | 'serverless';

// Largest request body the emulator reads.
const maxRequestBytes = 1024 * 1024;

/** An API error in the format of `protocol`. */
export function protocolError(protocol: Protocol, status: number, code: string, message: string, requestId: string): Reply {
  switch (protocol) {
    case 'sts-json':
      return stsError(status, code, message, requestId, true);
    case 'sts-xml':
      return stsError(status, code, message, requestId, false);
    case 'redshift':
      return redshiftError(status, code, message, requestId);
    case 'serverless':
      return serverlessError(status, code, message, requestId);
  }
}

/** The throttling error each API gives (`Rate exceeded`). */
export function throttleReply(protocol: Protocol, requestId: string): Reply {
  return protocol === 'serverless'
    ? serverlessError(400, 'ThrottlingException', 'Rate exceeded', requestId)
    : protocolError(protocol, 400, 'Throttling', 'Rate exceeded', requestId);
}

/** An injected 5xx in the format of `protocol`. */
export function serverErrorReply(protocol: Protocol, status: number, requestId: string): Reply {
  if (protocol === 'serverless') {
    return serverlessError(status, status === 503 ? 'ServiceUnavailableException' : 'InternalServerException', 'Injected server error', requestId);
  }
  return protocolError(protocol, status, status === 503 ? 'ServiceUnavailable' : 'InternalFailure', 'Injected server error', requestId);
}

/** A request body, or 'oversize' past maxRequestBytes, or 'aborted'. */
export function readBody(req: http.IncomingMessage): Promise<Buffer | 'oversize' | 'aborted'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxRequestBytes) {
        resolve('oversize');
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('close', () => resolve('aborted')); // no-op when already resolved
    req.on('error', reject);
  });
}
