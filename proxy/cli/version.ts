/** `rsproxy version`: version, Node version, commit. */
import { readFileSync } from 'node:fs';
import { packageVersion } from '../telemetry/build-info.js';
import { ExitCode } from '../errors/exit-codes.js';
import { specOf } from './command-specs.js';
import { parseCommand } from './options.js';

// The single executable's bundler defines the commit it was built from (deploy/exe/build-exe.ts).
declare const RSPROXY_BUILD_COMMIT: string | undefined;

// Build systems pass the commit in RSPROXY_COMMIT; a checkout can read .git without running git.
function readCommit(env: NodeJS.ProcessEnv): string {
  if (env.RSPROXY_COMMIT !== undefined && /^[0-9a-f]{7,40}$/.test(env.RSPROXY_COMMIT)) return env.RSPROXY_COMMIT;
  if (typeof RSPROXY_BUILD_COMMIT === 'string') return RSPROXY_BUILD_COMMIT;
  try {
    const root = new URL('../../../', import.meta.url);
    const head = readFileSync(new URL('.git/HEAD', root), 'utf8').trim();
    const ref = /^ref: (refs\/[\w./-]+)$/.exec(head)?.[1];
    const sha = ref === undefined ? head : readFileSync(new URL(`.git/${ref}`, root), 'utf8').trim();
    return /^[0-9a-f]{40}$/.test(sha) ? sha.slice(0, 12) : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The three lines `rsproxy version` prints. */
export function versionText(env: NodeJS.ProcessEnv = process.env): string {
  return `rsproxy ${packageVersion()}\nnode ${process.version}\ncommit ${readCommit(env)}\n`;
}

/** Runs `rsproxy version`. */
export async function run(argv: string[]): Promise<number> {
  parseCommand(specOf('version'), argv);
  process.stdout.write(versionText());
  return ExitCode.Ok;
}
