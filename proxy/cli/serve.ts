/** `rsproxy serve --config FILE`: run the proxy until SIGTERM/SIGINT; SIGHUP reloads the config. */
import { runServe } from './run-serve.js';
import { ExitCode } from '../errors/exit-codes.js';
import { specOf } from './command-specs.js';
import { configFlagValues } from './operator-specs.js';
import { isSet, parseCommand, stringValue } from './options.js';
import { onSignals } from './signals.js';

/** Runs the proxy; resolves with the exit code (143 SIGTERM, 130 SIGINT, 0 with --exit-zero-on-sigterm). */
export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(specOf('serve'), argv);
  const configPath = stringValue(args, 'config') ?? '';
  const flags: Record<string, string | boolean> = { ...configFlagValues(args) };
  if (isSet(args, 'exit-zero-on-sigterm')) flags['exit-zero-on-sigterm'] = true;
  let handle: Awaited<ReturnType<typeof runServe>>;
  try {
    handle = await runServe({ configPath, flags, env: process.env });
  } catch (err) {
    const problems = (err as { problems?: unknown }).problems;
    if (Array.isArray(problems)) {
      for (const p of problems) process.stderr.write(`${String(p)}\n`);
      return ExitCode.Usage;
    }
    throw err;
  }
  const off = onSignals({ SIGTERM: () => handle.shutdown('SIGTERM'), SIGINT: () => handle.shutdown('SIGINT'), SIGHUP: () => void handle.reload() });
  try {
    return await handle.done;
  } finally {
    off();
  }
}
