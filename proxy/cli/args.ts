/** A small strict argv parser on node:util parseArgs: unknown flags and stray positionals are usage errors (exit 1). */
import { parseArgs } from 'node:util';
import { scalarKeys } from '../config/config.js';

/** A command-line usage error; the CLI prints it with the usage text and exits 1. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'CLI_USAGE';
  readonly exitCode = 1;
}

/** One option: `string` takes a value, `boolean` does not. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}

/** Parsed options and positionals (after `--`, if `allowRest`). */
export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

/** Parses argv strictly; throws UsageError on unknown flags, missing values or unexpected positionals. */
export function parseCommandArgs(argv: readonly string[], options: Readonly<Record<string, OptionSpec>>, opts: { allowPositionals?: boolean } = {}): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: opts.allowPositionals ?? false,
    });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] ?? err.message : String(err);
    throw new UsageError(msg, { cause: err });
  }
}

/** A string option's value; UsageError when required and missing. */
export function stringOption(args: ParsedArgs, name: string, required: true): string;
export function stringOption(args: ParsedArgs, name: string, required?: false): string | undefined;
export function stringOption(args: ParsedArgs, name: string, required = false): string | undefined {
  const v = args.values[name];
  if (typeof v === 'string' && v !== '') return v;
  if (required) throw new UsageError(`--${name} is required`);
  return undefined;
}

/** Options for every scalar config key (`--limits-login-timeout-ms 5000`), derived from the schema. */
export function configFlagOptions(): Record<string, OptionSpec> {
  return Object.fromEntries(scalarKeys.map((k) => [k.flag, { type: 'string' as const }]));
}

/** The config flag values out of parsed args, keyed by flag name. */
export function configFlagValues(args: ParsedArgs): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of scalarKeys) {
    const v = args.values[k.flag];
    if (typeof v === 'string') out[k.flag] = v;
  }
  return out;
}
