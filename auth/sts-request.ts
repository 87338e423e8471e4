/** Rebuilds the presigned STS GetCallerIdentity request from validated token fields and config (docs/design/token.md §2.2, §2.4). */
import type { ParsedToken } from './token-parse.js';
import type { IdentityOptions, Partition } from './types.js';

/** DNS suffix of each supported partition (docs/design/token.md §12). */
export const partitionDomain: Readonly<Record<Partition, string>> = {
  aws: 'amazonaws.com',
  'aws-cn': 'amazonaws.com.cn',
  'aws-us-gov': 'amazonaws.com',
};

/** STS API version, fixed by the token format. */
export const stsApiVersion = '2011-06-15';

/** The regional STS host `sts.<region>.<partition domain>`; never the global host. */
export function stsHost(region: string, partition: Partition): string {
  return `sts.${region}.${partitionDomain[partition]}`;
}

/** RFC 3986 encoding as SigV4 uses it: keep `A-Z a-z 0-9 - _ . ~`, `%XX` (upper-case hex) for every other byte. */
export function rfc3986Encode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The outgoing request: signed host, path with query, and the only headers ever sent. */
export interface StsRequest {
  host: string;
  /** `/?…`, every name and value RFC 3986 encoded. */
  path: string;
  headers: Record<string, string>;
}

/** Builds the GET the token presigns, from the parsed token and the proxy's own config only. */
export function buildStsRequest(parsed: ParsedToken, identity: IdentityOptions): StsRequest {
  const host = stsHost(parsed.region, identity.partition);
  const scopeDate = parsed.amzDate.slice(0, 8);
  const params: [string, string][] = [
    ['Action', 'GetCallerIdentity'],
    ['Version', stsApiVersion],
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
    ['X-Amz-Credential', `${parsed.accessKeyId}/${scopeDate}/${parsed.region}/sts/aws4_request`],
    ['X-Amz-Date', parsed.amzDate],
    ['X-Amz-Expires', String(parsed.expiresSeconds)],
  ];
  if (parsed.sessionToken !== undefined) params.push(['X-Amz-Security-Token', parsed.sessionToken]);
  params.push(['X-Amz-SignedHeaders', `host;${parsed.audienceHeader}`]);
  params.push(['X-Amz-Signature', parsed.signature]);
  const query = params.map(([k, v]) => `${rfc3986Encode(k)}=${rfc3986Encode(v)}`).join('&');
  return {
    host,
    path: `/?${query}`,
    // The audience is always the proxy's own, never the client's (docs/design/token.md §1, §5).
    headers: { host, [parsed.audienceHeader]: identity.audience, accept: 'application/json' },
  };
}
