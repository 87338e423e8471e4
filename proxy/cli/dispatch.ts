/**
 * Dispatches `rsproxy <command> …` from an explicit command list, answers --help from the option tables, and is
 * the one place a thrown error becomes a message and an exit code. Shared by the npm entry (index.ts) and the
 * single executable's (exe-main.ts).
 */
import { ConfigError } from '../config/config.js';
import { ExitCode, exitCodeOf, UsageError } from '../errors/exit-codes.js';
import { commandSpecs } from './command-specs.js';
import { renderCommandHelp, renderUsage } from './help.js';

/** What each command module exports. */
export interface CommandModule {
  run(argv: string[]): Promise<number>;
}

/** A command table: command name → loader of its module. */
export type CommandTable = Readonly<Record<string, () => Promise<CommandModule>>>;

/** The commands, each loaded only when invoked (so `version` does not load the AWS SDK). */
export const commands: CommandTable = {
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

/** Runs one CLI invocation against `table` (default: every command) and returns its exit code. */
export async function main(argv: readonly string[], table: CommandTable = commands): Promise<number> {
  const specs = commandSpecs.filter((s) => Object.hasOwn(table, s.name));
  const usage = renderUsage(specs);
  const specByName = new Map(specs.map((s) => [s.name, s]));
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(usage);
    return ExitCode.Usage;
  }
  if (command === '--version') return main(['version'], table);
  if (command === 'help' || command === '--help' || command === '-h') {
    const spec = rest[0] === undefined ? undefined : specByName.get(rest[0]);
    process.stdout.write(spec === undefined ? usage : renderCommandHelp(spec));
    return ExitCode.Ok;
  }
  const load = Object.hasOwn(table, command) ? table[command] : undefined;
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
    // The config room may not import proxy/errors, so its error is mapped here: a bad config is exit 1.
    return err instanceof ConfigError ? ExitCode.Usage : exitCodeOf(err);
  }
}
