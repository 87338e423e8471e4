/** The running build's identity: the package version (from package.json) and the Node version. A leaf. */
import { readFileSync } from 'node:fs';

// The single executable has no package.json beside it: its bundler defines this constant (deploy/exe/build-exe.ts).
declare const RSPROXY_BUILD_VERSION: string | undefined;

/** The `version` field of rsproxy's package.json (built into the single executable), or 'unknown' when it cannot be read. */
export function packageVersion(): string {
  if (typeof RSPROXY_BUILD_VERSION === 'string') return RSPROXY_BUILD_VERSION;
  try {
    // dist/proxy/telemetry/build-info.js → the project root (where package.json lives) is three levels up.
    const packageJsonUrl = new URL('../../../package.json', import.meta.url);
    const pkg = JSON.parse(readFileSync(packageJsonUrl, 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
