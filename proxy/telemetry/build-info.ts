/** The running build's identity: the package version (from package.json) and the Node version. A leaf. */
import { readFileSync } from 'node:fs';

// dist/proxy/telemetry/build-info.js → the project root (where package.json lives) is three levels up.
const packageJsonUrl = new URL('../../../package.json', import.meta.url);

/** The `version` field of rsproxy's package.json, or 'unknown' when it cannot be read. */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(packageJsonUrl, 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
