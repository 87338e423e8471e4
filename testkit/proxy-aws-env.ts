/**
 * The proxy's own AWS identity for in-process stacks (stack.ts, iam-stack.ts): random key ids, the
 * standard SDK variables that point it at the emulator, and a save/set/restore of process.env.
 */
import { randomBytes } from 'node:crypto';

/** A random 20-character AWS access key id: `AKIA` (long-term) or `ASIA` (temporary). */
export function randomKeyId(prefix: 'AKIA' | 'ASIA'): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let id = prefix;
  for (const b of randomBytes(16)) id += alphabet[b % alphabet.length];
  return id;
}

/** The SDK variables (keys, region, emulator endpoints) the proxy's AWS clients read (docs/design/surface.md §3). */
export function proxyAwsEnv(keys: { accessKeyId: string; secretAccessKey: string }, region: string, emulatorUrl: string): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: keys.accessKeyId,
    AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
    AWS_REGION: region,
    AWS_ENDPOINT_URL_STS: emulatorUrl,
    AWS_ENDPOINT_URL_REDSHIFT: emulatorUrl,
    AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS: emulatorUrl,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** Deletes `clear` then sets `values` in process.env; returns a restore of every key it saved (`clear` first). */
export function setProcessEnv(values: Readonly<Record<string, string>>, clear: readonly string[] = []): () => void {
  const keys = [...new Set([...clear, ...Object.keys(values)])];
  const saved = new Map(keys.map((k) => [k, process.env[k]] as const));
  for (const k of clear) delete process.env[k];
  Object.assign(process.env, values);
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
