/** `rsproxy check-config --config FILE [--print]`: validate, one line per problem; exit 0/1. */
import { stringify } from 'yaml';
import { loadConfigFile, redactConfig } from '../config/config.js';
import { ExitCode } from '../errors/exit-codes.js';
import { specOf } from './command-specs.js';
import { configFlagValues } from './operator-specs.js';
import { isSet, parseCommand, stringValue } from './options.js';

/** Where check-config writes; tests capture these. */
export interface CheckConfigIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: Readonly<Record<string, string | undefined>>;
}

const processIo: CheckConfigIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
};

/** Validates the config named by argv; returns the exit code (0 ok or warnings only, 1 errors). */
export async function run(argv: string[], io: CheckConfigIo = processIo): Promise<number> {
  const args = parseCommand(specOf('check-config'), argv);
  const path = stringValue(args, 'config') ?? '';
  const result = loadConfigFile(path, { flags: configFlagValues(args), env: io.env });
  for (const w of result.warnings) io.stderr(`warning: ${w}\n`);
  if (!result.ok) {
    for (const e of result.errors) io.stderr(`${e}\n`);
    io.stderr(`${path}: ${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}\n`);
    return ExitCode.Usage;
  }
  if (isSet(args, 'print')) io.stdout(stringify(redactConfig(result.config)));
  else io.stdout(`${path}: OK\n`);
  return ExitCode.Ok;
}
