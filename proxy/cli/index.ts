#!/usr/bin/env node
/** The `rsproxy` binary: dispatches `rsproxy <command> …` from an explicit command list; each command's `run(argv)` returns the exit code. */

const usage = `usage: rsproxy <command> [options]

commands:
  serve --config FILE [--exit-zero-on-sigterm] [--<key-path> VALUE …]   run the proxy
  demo [--host H] [--port P] [--admin-port P] [--upstream postgres://…]
                                         run everything locally with no AWS account
  token --audience AUD [--region R] [--profile P]
                                         print a signed token (rsp1.…)
  connect --host H --dbname D [--user U] [--port P] [--audience AUD] [--region R] [--profile P]
          [--sslmode MODE] [--sslrootcert FILE] [-- psql args…]
                                         run psql with a fresh token in PGPASSWORD
  url --format jdbc|odbc|libpq|dbeaver --host H --dbname D [--user U] [--port P] [--audience AUD]
      [--region R] [--profile P] [--sslmode MODE] [--sslrootcert FILE] [--driver postgresql|redshift]
      [--no-token]                       print a connection string (--driver redshift: jdbc only)
  credentials (--cluster C --db-user U [--db-groups G1,G2] [--auto-create] | --workgroup W)
      --db-name D [--duration-seconds 900..3600] [--region R] [--profile P]
      [--format json|env|jdbc|odbc|libpq] [--driver postgresql|redshift] [--sslmode MODE] [--sslrootcert FILE]
                                         temporary credentials straight from AWS (no proxy)
  tunnel --host H [--port 5439] [--listen 127.0.0.1:5439] [--unix-socket DIR] [--user U] [--dbname D]
         [--audience AUD] [--region R] [--profile P] [--sslmode verify-full|verify-ca|require]
         [--sslrootcert FILE] [--token-reuse-seconds 0..240] [--local-tls]
                                         local listener for GUI tools and services: no password, a
                                         fresh token from your AWS credentials for each connection
  check-config --config FILE [--print] [--<key-path> VALUE …]
  explain --config FILE --arn ARN --database D [--user U] [--account ID] [--json]
                                         which rule admits that identity (exit 0) or why none does (exit 3)
  policy --config FILE --account ID [--resolve] [--role ARN]
                                         print the least-privilege IAM policy for the config
  audit verify FILE…                     check an audit log's hash chain (exit 0 intact, 3 broken)
  version

--sslmode: disable|allow|prefer|require|verify-ca|verify-full (default verify-full).
Environment: RSPROXY_AUDIENCE (default --audience), RSPROXY_USER (default --user),
RSPROXY_PSQL (psql executable for connect), AWS_REGION / AWS_DEFAULT_REGION (default --region).
Config flags and RSPROXY_* env vars derive from key paths: limits.loginTimeoutMs →
--limits-login-timeout-ms / RSPROXY_LIMITS_LOGIN_TIMEOUT_MS (flag > env > file > default).
Exit codes: 0 ok, 1 usage/config error, 2 runtime failure, 3 denied (explain) or broken (audit), 130 SIGINT,
143 SIGTERM (tunnel: 0 on either).
`;

interface CommandModule {
  run(argv: string[]): Promise<number>;
  /** The command's own `--help` text; the overall usage when absent. */
  usage?: string;
}

/** The commands, each loaded only when invoked (so `version` does not load the AWS SDK). */
const commands: Readonly<Record<string, () => Promise<CommandModule>>> = {
  serve: () => import('./serve.js'),
  demo: () => import('./demo.js'),
  token: () => import('./token.js'),
  connect: () => import('./connect.js'),
  url: () => import('./url.js'),
  credentials: () => import('./credentials.js'),
  tunnel: () => import('./tunnel.js'),
  'check-config': () => import('./check-config.js'),
  explain: () => import('./explain.js'),
  policy: () => import('./policy.js'),
  audit: () => import('./audit.js'),
  version: () => import('./version.js'),
};

function exitCodeOf(err: unknown): number | undefined {
  const code = (err as { exitCode?: unknown } | null)?.exitCode;
  return typeof code === 'number' ? code : undefined;
}

/** Runs one CLI invocation and returns its exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    (command === undefined ? process.stderr : process.stdout).write(usage);
    return command === undefined ? 1 : 0;
  }
  if (command === '--version') return main(['version']);
  const load = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (load === undefined) {
    process.stderr.write(`rsproxy: unknown command "${command.slice(0, 40)}"\n\n${usage}`);
    return 1;
  }
  const mod = await load();
  const dashDash = rest.indexOf('--');
  const own = dashDash === -1 ? rest : rest.slice(0, dashDash);
  if (own.includes('--help') || own.includes('-h')) {
    process.stdout.write(mod.usage ?? usage);
    return 0;
  }
  try {
    return await mod.run(rest);
  } catch (err) {
    const code = exitCodeOf(err);
    const msg = err instanceof Error ? err.message : String(err);
    if (code === 1 && (err as { name?: unknown }).name === 'UsageError') {
      process.stderr.write(`rsproxy ${command}: ${msg}\n\n${usage}`);
      return 1;
    }
    process.stderr.write(`rsproxy ${command}: ${msg}\n`);
    return code ?? 2;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
// A lingering keep-alive socket (AWS SDK agents) must not hold the exit.
setTimeout(() => process.exit(code), 2000).unref();
