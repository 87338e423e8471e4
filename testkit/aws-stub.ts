/** A canned-response HTTP server on 127.0.0.1:0 for SDK-level unit tests of the minters (records every request). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as received. */
export interface StubRequest {
  method: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Form fields of an awsQuery body (empty for JSON). */
  form: URLSearchParams;
}

/** One canned answer. */
export interface StubReply {
  status: number;
  body: string;
  contentType?: string;
}

/** A running stub; replies are taken from the queue, the last one repeats. */
export interface AwsStub {
  url: string;
  requests: StubRequest[];
  reply(...replies: StubReply[]): void;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts the stub. */
export async function startAwsStub(): Promise<AwsStub> {
  const requests: StubRequest[] = [];
  let queue: StubReply[] = [{ status: 500, body: '' }];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', headers: req.headers, body, form: new URLSearchParams(body.startsWith('{') ? '' : body) });
      const r = queue.length > 1 ? queue.shift() : queue[0];
      const reply = r ?? { status: 500, body: '' };
      res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'text/xml', 'x-amzn-requestid': 'stub-request-id' });
      res.end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    reply(...replies) {
      queue = replies;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** An awsQuery (Redshift, STS) error body. */
export function queryError(code: string, message: string): string {
  return `<ErrorResponse xmlns="http://redshift.amazonaws.com/doc/2012-12-01/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>stub-request-id</RequestId></ErrorResponse>`;
}

/** An awsJson1_1 (Redshift Serverless) error reply. */
export function jsonError(status: number, type: string, message: string): StubReply {
  return { status, body: JSON.stringify({ __type: type, message }), contentType: 'application/x-amz-json-1.1' };
}
