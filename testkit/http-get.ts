/** A plain HTTP GET for tests (admin endpoints, presigned STS URLs at the emulator), bounded in time. */
import http from 'node:http';

/** Status and body text of one answered request. */
export interface HttpAnswer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** GETs `target` (a URL, or request options such as a signed Host header), without keep-alive; rejects after `timeoutMs`. */
export function httpGet(target: string | http.RequestOptions, timeoutMs = 5000): Promise<HttpAnswer> {
  const options: http.RequestOptions = typeof target === 'string' ? { agent: false } : { method: 'GET', agent: false, ...target };
  return new Promise((resolve, reject) => {
    const req = typeof target === 'string' ? http.request(target, options) : http.request(options);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${typeof target === 'string' ? target : (target.path ?? '/')} timed out`)));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
