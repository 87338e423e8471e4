/** The declared option table of a command and the strict parser generated from it (node:util parseArgs underneath). */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors/exit-codes.js';

/** How an option's value is read: `boolean` takes none, `number` is a non-negative integer, `list` is comma-separated. */
export type OptionType = 'string' | 'boolean' | 'number' | 'list';

/** One option of a command: everything its parser, its --help line and the reference page need. */
export interface OptionDef {
  /** The documented name, without dashes (`dbname`). */
  readonly name: string;
  readonly type: OptionType;
  /** Old or alternative spellings that still work; never shown in help. */
  readonly aliases?: readonly string[];
  /** One-letter form (`c` for `-c`). */
  readonly short?: string;
  /** Placeholder for the value in help (`FILE`); booleans have none. */
  readonly valueName?: string;
  readonly description: string;
  readonly default?: string | number | boolean;
  readonly required?: boolean;
  /** The values accepted, in the order help lists them. */
  readonly allowed?: readonly string[];
  /** Hidden value spellings mapped to an allowed value (`pgjdbc` → `postgresql`). */
  readonly valueAliases?: Readonly<Record<string, string>>;
  /** Inclusive bounds of a `number`. */
  readonly min?: number;
  readonly max?: number;
  /** An environment variable read when the flag is absent (documented; the command reads it). */
  readonly env?: string;
  /** Help groups options by section; unset is the command's own options. */
  readonly section?: string;
}

/** Where a command takes non-option arguments. */
export interface PositionalSpec {
  /** `FILE…` in the synopsis. */
  readonly name: string;
  readonly description: string;
  /** Only after `--` (they belong to another program, e.g. psql), else anywhere. */
  readonly afterDashDash?: boolean;
  readonly min?: number;
}

/** A command: its name, what it does, its options and positionals; the single source of its parser, help and reference entry. */
export interface CommandSpec {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Sentences printed under the usage line. */
  readonly description?: readonly string[];
  /** Replaces the generated synopsis (after `rsproxy <name> `) when a rule like "one of" needs saying. */
  readonly synopsis?: string;
  readonly options: readonly OptionDef[];
  readonly positionals?: PositionalSpec;
  /** Variables for help's Environment section beyond the options' env fallbacks: [name, what it does]. */
  readonly environment?: ReadonlyArray<readonly [string, string]>;
  /** What this command's exit codes mean. */
  readonly exitCodes: string;
}

/** A parsed value. */
export type OptionValue = string | number | boolean | readonly string[];

/** Parsed options by documented name (defaults applied) and positionals. */
export interface ParsedArgs {
  readonly values: Readonly<Record<string, OptionValue | undefined>>;
  readonly positionals: readonly string[];
}

const helpFlag = `--help`;

function usageError(spec: CommandSpec, message: string, cause?: unknown): UsageError {
  return new UsageError(`${message} (see \`rsproxy ${spec.name} ${helpFlag}\`)`, cause === undefined ? undefined : { cause });
}

function parseErrorMessage(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const msg = err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${/'([^']+)'/.exec(msg)?.[1] ?? msg}`;
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument ${/'([^']*)'/.exec(msg)?.[1]?.slice(0, 40) ?? ''}`;
  const flag = /'(-[^' ]+)/.exec(msg)?.[1];
  if (flag !== undefined && /missing|ambiguous/.test(msg)) return `${flag} needs a value`;
  if (flag !== undefined && /does not take an argument/.test(msg)) return `${flag} takes no value`;
  return msg;
}

function convert(spec: CommandSpec, def: OptionDef, raw: string | boolean): OptionValue {
  if (typeof raw === 'boolean') return raw;
  const flag = `--${def.name}`;
  if (def.type === 'number') {
    const n = Number(raw);
    const lo = def.min ?? 0;
    const range = def.max === undefined ? `≥ ${lo}` : `${lo}..${def.max}`;
    if (!/^\d+$/.test(raw) || n < lo || (def.max !== undefined && n > def.max)) throw usageError(spec, `${flag}: must be an integer ${range} (got "${raw.slice(0, 20)}")`);
    return n;
  }
  if (def.type === 'list') return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const value = def.valueAliases?.[raw] ?? raw;
  if (def.allowed !== undefined && !def.allowed.includes(value)) throw usageError(spec, `${flag}: must be one of ${def.allowed.join(', ')} (got "${raw.slice(0, 20)}")`);
  return value;
}

/** Parses argv by the command's table: unknown flags, missing values, bad values and misplaced positionals are UsageErrors (exit 1). */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const def of spec.options) {
    const type = def.type === 'boolean' ? 'boolean' : 'string';
    options[def.name] = def.short === undefined ? { type } : { type, short: def.short };
    for (const alias of def.aliases ?? []) options[alias] = { type };
  }
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: spec.positionals !== undefined }) as typeof parsed;
  } catch (err) {
    throw usageError(spec, parseErrorMessage(err), err);
  }
  const dashDash = argv.indexOf('--');
  if (spec.positionals?.afterDashDash === true && parsed.positionals.length > (dashDash === -1 ? 0 : argv.length - dashDash - 1)) {
    throw usageError(spec, `unexpected argument "${parsed.positionals[0]?.slice(0, 40) ?? ''}"; put ${spec.positionals.name} after --`);
  }
  if (spec.positionals?.min !== undefined && parsed.positionals.length < spec.positionals.min) throw usageError(spec, `${spec.positionals.name} is required`);
  const values: Record<string, OptionValue | undefined> = {};
  for (const def of spec.options) {
    const given = [def.name, ...(def.aliases ?? [])].filter((n) => parsed.values[n] !== undefined);
    if (given.length > 1) throw usageError(spec, `--${def.name} is given more than once (as ${given.map((n) => `--${n}`).join(' and ')})`);
    const raw = given[0] === undefined ? undefined : parsed.values[given[0]];
    if (raw === undefined || (raw === '' && def.required === true)) {
      if (def.required === true) throw usageError(spec, `--${def.name} is required`);
      values[def.name] = def.default;
    } else values[def.name] = convert(spec, def, raw);
  }
  return { values, positionals: parsed.positionals };
}

/** A string option's value, or undefined when absent or empty. */
export function stringValue(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** A number option's value, or undefined when absent. */
export function numberValue(args: ParsedArgs, name: string): number | undefined {
  const v = args.values[name];
  return typeof v === 'number' ? v : undefined;
}

/** True when a boolean option was given. */
export function isSet(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** A list option's items (empty when absent). */
export function listValue(args: ParsedArgs, name: string): readonly string[] {
  const v = args.values[name];
  return Array.isArray(v) ? (v as readonly string[]) : [];
}
