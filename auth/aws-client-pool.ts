/** Reuses one SDK client per (region, credentials), bounded, and turns login deadlines into abort signals. */
import type { AwsCredentials } from './aws-errors.js';
import { deadlineSignal, type Deadline } from './deadline.js';

/** SDK client settings shared by the three SDK-backed modules (docs/design/aws.md §9). */
export const sdkClientDefaults = {
  /** One retry layer only: ours (backoff.ts), so every attempt is counted. */
  maxAttempts: 1,
  requestHandler: { connectionTimeout: 3000, requestTimeout: 5000 },
} as const;

/** Most clients kept; assumed-role credentials rotate, so old clients are dropped. */
const maxClients = 64;

/** A bounded pool of SDK clients keyed by region and access key id (never by the secret). */
export class ClientPool<C extends { destroy(): void }> {
  readonly #clients = new Map<string, C>();
  readonly #create: (region: string, credentials: AwsCredentials | undefined) => C;

  constructor(create: (region: string, credentials: AwsCredentials | undefined) => C) {
    this.#create = create;
  }

  /** The client for (region, credentials), created on first use. */
  get(region: string, credentials: AwsCredentials | undefined): C {
    const key = credentials === undefined ? `${region}|default` : `${region}|${credentials.accessKeyId}`;
    let client = this.#clients.get(key);
    if (client !== undefined) {
      this.#clients.delete(key);
      this.#clients.set(key, client);
      return client;
    }
    client = this.#create(region, credentials);
    this.#clients.set(key, client);
    for (const [oldKey, old] of this.#clients) {
      if (this.#clients.size <= maxClients) break;
      this.#clients.delete(oldKey);
      old.destroy();
    }
    return client;
  }

  /** Destroys every client (shutdown, tests). */
  destroy(): void {
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
  }
}

/** An SDK client's config for `region`: sdkClientDefaults plus the endpoint override and explicit credentials, when given. */
export function sdkClientConfig(region: string, endpoint: string | undefined, credentials: AwsCredentials | undefined) {
  return {
    region,
    ...sdkClientDefaults,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(credentials === undefined ? {} : { credentials: toSdkCredentials(credentials) }),
  };
}

/** The `client.send` options of a call bounded by `deadlineMs` (wall clock): an abort signal, or none without a deadline. */
export function sendOptions(deadlineMs: Deadline | undefined): { abortSignal?: AbortSignal } {
  return deadlineMs === undefined ? {} : { abortSignal: deadlineSignal(deadlineMs) };
}

/** The SDK's credential shape (drops our expiresAtMs). */
export function toSdkCredentials(c: AwsCredentials): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } {
  return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, ...(c.sessionToken === undefined ? {} : { sessionToken: c.sessionToken }) };
}
