#!/usr/bin/env node
/** The `rsproxy` binary: dispatches `rsproxy <command> …` from an explicit command list, answers --help from the option tables, and is the one place a thrown error becomes a message and an exit code. */
import { ExitCode, exitCodeOf, UsageError } from '../errors/exit-codes.js';
import { commandSpecs } from './command-specs.js';
import { renderCommandHelp, renderUsage } from './help.js';

interface CommandModule {
  run(argv: string[]): Promise<number>;
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
  version: () => import('./version.js'),
};

const usage = renderUsage(commandSpecs);
const specByName = new Map(commandSpecs.map((s) => [s.name, s]));

/** Runs one CLI invocation and returns its exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(usage);
    return ExitCode.Usage;
  }
  if (command === '--version') return main(['version']);
  if (command === 'help' || command === '--help' || command === '-h') {
    const spec = rest[0] === undefined ? undefined : specByName.get(rest[0]);
    process.stdout.write(spec === undefined ? usage : renderCommandHelp(spec));
    return ExitCode.Ok;
  }
  const load = Object.hasOwn(commands, command) ? commands[command] : undefined;
  const spec = specByName.get(command);
  if (load === undefined || spec === undefined) {
    process.stderr.write(`rsproxy: unknown command "${command.slice(0, 40)}"\n\n${usage}`);
    return ExitCode.Usage;
  }
  const dashDash = rest.indexOf('--');
  const own = dashDash === -1 ? rest : rest.slice(0, dashDash);
  if (own.includes('--help') || own.includes('-h')) {
    process.stdout.write(renderCommandHelp(spec));
    return ExitCode.Ok;
  }
  try {
    return await (await load()).run(rest);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const seeHelp = err instanceof UsageError && !msg.includes('--help`') ? ` (see \`rsproxy ${command} --help\`)` : '';
    process.stderr.write(`rsproxy ${command}: ${msg}${seeHelp}\n`);
    return exitCodeOf(err);
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
// A lingering keep-alive socket (AWS SDK agents) must not hold the exit.
setTimeout(() => process.exit(code), 2000).unref();
