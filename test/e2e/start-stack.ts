/**
 * Starts the test stack for test/e2e/run.sh: prints one JSON line (ports, CA file, tokens, direct
 * PostgreSQL login) to stdout, then stays up until stdin closes or SIGTERM/SIGINT arrives.
 * The tokens are signed with emulator-only keys and live for 15 minutes on loopback.
 */
import { startStack } from '../../testkit/stack.js';

/** What run.sh reads (one line of JSON on stdout). */
export interface E2eStackInfo {
  host: '127.0.0.1';
  proxyPort: number;
  adminPort: number;
  caFile: string;
  user: string;
  database: string;
  token: string;
  longToken: string;
  /** A well-formed token whose signature is wrong (STS rejects it). */
  badToken: string;
  pgPort: number;
  pgUser: string;
  pgPassword: string;
  pgDatabase: string;
}

/** Replaces the signature field of an rsp1 token with zeros. */
export function corruptSignature(token: string): string {
  const parts = token.split('.');
  parts[4] = '0'.repeat(64);
  return parts.join('.');
}

async function main(): Promise<void> {
  const stack = await startStack({ logLevel: 'warn' });
  let closing: Promise<void> | undefined;
  const stop = (code: number): void => {
    closing ??= stack.close().finally(() => process.exit(code));
  };
  process.once('SIGTERM', () => stop(0));
  process.once('SIGINT', () => stop(0));
  process.stdin.on('end', () => stop(0));
  process.stdin.on('error', () => stop(0));
  process.stdin.resume();
  try {
    // The upstream base user exists beforehand so that it can read what pgbench creates.
    await stack.pg.query('CREATE ROLE alice NOLOGIN');
    await stack.pg.query('GRANT pg_read_all_data TO alice');
    const token = await stack.mintToken();
    const info: E2eStackInfo = {
      host: '127.0.0.1',
      proxyPort: stack.proxyPort,
      adminPort: stack.adminPort,
      caFile: stack.caFile,
      user: stack.dbUser,
      database: stack.database,
      token,
      longToken: await stack.mintToken({ long: true }),
      badToken: corruptSignature(token),
      pgPort: stack.pg.port,
      pgUser: stack.pg.superuser,
      pgPassword: stack.pg.superPassword,
      pgDatabase: stack.upstreamDbName,
    };
    process.stdout.write(`${JSON.stringify(info)}\n`);
  } catch (err) {
    process.stderr.write(`start-stack failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    for (const line of stack.logs.slice(-20)) process.stderr.write(`${line}\n`);
    stop(1);
  }
}

// `node --test dist/test` also loads this file; it serves only when run directly (run.sh passes --serve).
const isServe = process.argv.includes('--serve') || process.env['NODE_TEST_CONTEXT'] === undefined;
if (isServe) {
  void main().catch((err: unknown) => {
    process.stderr.write(`start-stack failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
