#!/usr/bin/env node
/** The `rsproxy` binary: dispatches `rsproxy <command> …` to `./<command>.js`, whose `run(argv)` returns the exit code. */

const usage = `usage: rsproxy <command> [options]

commands:
  serve --config FILE [--exit-zero-on-sigterm] [--<key-path> VALUE …]   run the proxy
  demo                                   run everything locally with no AWS account
  token --audience AUD [--region R] [--profile P]
  connect --host H --dbname D [--user U] [-- psql args…]
  url --format jdbc|odbc|libpq|dbeaver --host H --dbname D
  credentials --cluster C --db-user U --db-name D
  check-config --config FILE [--print]
  version

Config flags and RSPROXY_* env vars derive from key paths: limits.loginTimeoutMs →
--limits-login-timeout-ms / RSPROXY_LIMITS_LOGIN_TIMEOUT_MS (flag > env > file > default).
Exit codes: 0 ok, 1 usage/config error, 2 runtime failure, 130 SIGINT, 143 SIGTERM.
`;

interface CommandModule {
  run(argv: string[]): Promise<number>;
}

// Modules in this directory that are helpers, not commands.
const notCommands = new Set(['index', 'args']);

function isCommandModule(m: unknown): m is CommandModule {
  return typeof m === 'object' && m !== null && typeof (m as { run?: unknown }).run === 'function';
}

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
  if (!/^[a-z][a-z-]*$/.test(command) || notCommands.has(command)) {
    process.stderr.write(`rsproxy: unknown command "${command.slice(0, 40)}"\n\n${usage}`);
    return 1;
  }
  let mod: unknown;
  try {
    mod = await import(`./${command}.js`);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(`/cli/${command}.js`)) {
      process.stderr.write(`rsproxy: unknown command "${command}"\n\n${usage}`);
      return 1;
    }
    throw err;
  }
  if (!isCommandModule(mod)) {
    process.stderr.write(`rsproxy: unknown command "${command}"\n\n${usage}`);
    return 1;
  }
  const dashDash = rest.indexOf('--');
  const own = dashDash === -1 ? rest : rest.slice(0, dashDash);
  if (own.includes('--help') || own.includes('-h')) {
    process.stdout.write(usage);
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
