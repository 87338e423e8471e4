/** The `--help` text of a command and the global usage, rendered from the option tables (never written by hand). */
import type { CommandSpec, OptionDef } from './options.js';

/** `--name VALUE` (with `-c, ` for a short form). */
export function flagText(o: OptionDef): string {
  const value = o.type === 'boolean' ? '' : ` ${o.valueName ?? 'VALUE'}`;
  return `${o.short === undefined ? '' : `-${o.short}, `}--${o.name}${value}`;
}

/** The facts after an option's description: one of, range, default, env fallback, required. */
export function optionFacts(o: OptionDef): string[] {
  const facts: string[] = [];
  if (o.required === true) facts.push('Required.');
  if (o.allowed !== undefined) facts.push(`One of: ${o.allowed.join(', ')}.`);
  if (o.type === 'number' && (o.min !== undefined || o.max !== undefined)) facts.push(o.max === undefined ? `At least ${o.min ?? 0}.` : `${o.min ?? 0}..${o.max}.`);
  if (o.type === 'list') facts.push('Comma-separated.');
  if (o.default !== undefined) facts.push(`Default ${String(o.default)}.`);
  if (o.env !== undefined && o.section !== undefined) facts.push(`Env ${o.env}.`);
  return facts;
}

/** What follows `rsproxy <name> ` in the usage line. */
export function synopsisOf(spec: CommandSpec): string {
  if (spec.synopsis !== undefined) return spec.synopsis;
  const own = spec.options.filter((o) => o.section === undefined);
  const parts = own.filter((o) => o.required === true).map((o) => `--${o.name}${o.type === 'boolean' ? '' : ` ${o.valueName ?? 'VALUE'}`}`);
  if (own.some((o) => o.required !== true)) parts.push('[options]');
  if (spec.options.some((o) => o.section !== undefined)) parts.push('[--<key-path> VALUE …]');
  const pos = spec.positionals;
  if (pos !== undefined) parts.push(pos.afterDashDash === true ? `[-- ${pos.name}]` : pos.min !== undefined && pos.min > 0 ? pos.name : `[${pos.name}]`);
  return parts.join(' ');
}

function table(rows: ReadonlyArray<readonly [string, string]>): string[] {
  const width = Math.min(30, Math.max(...rows.map(([left]) => left.length)));
  return rows.map(([left, right]) => (left.length > width ? `  ${left}\n  ${' '.repeat(width)}  ${right}` : `  ${left.padEnd(width)}  ${right}`));
}

/** Options grouped by section, the command's own first. */
export function sectionsOf(spec: CommandSpec): Array<[string, OptionDef[]]> {
  const sections = new Map<string, OptionDef[]>([['Options', []]]);
  for (const o of spec.options) {
    const key = o.section ?? 'Options';
    sections.set(key, [...(sections.get(key) ?? []), o]);
  }
  return [...sections.entries()];
}

/** The environment variables a command reads: its options' fallbacks and its own lines. */
export function environmentOf(spec: CommandSpec): Array<readonly [string, string]> {
  const fromOptions = spec.options.filter((o) => o.env !== undefined && o.section === undefined).map((o) => [o.env ?? '', `default of --${o.name}`] as const);
  return [...fromOptions, ...(spec.environment ?? [])];
}

/** The text `rsproxy <command> --help` prints. */
export function renderCommandHelp(spec: CommandSpec): string {
  const lines = [`Usage: rsproxy ${spec.name} ${synopsisOf(spec)}`.trimEnd(), ''];
  for (const d of spec.description ?? [spec.summary]) lines.push(d);
  for (const [title, options] of sectionsOf(spec)) {
    const rows: Array<readonly [string, string]> = options.map((o) => [flagText(o), [o.description, ...optionFacts(o)].join(' ')]);
    if (title === 'Options') rows.push(['-h, --help', 'Show this help.']);
    lines.push('', `${title}:`, ...table(rows));
  }
  if (spec.positionals !== undefined) lines.push('', 'Arguments:', ...table([[spec.positionals.name, spec.positionals.description]]));
  const env = environmentOf(spec);
  if (env.length > 0) lines.push('', 'Environment:', ...table(env));
  lines.push('', `Exit codes: ${spec.exitCodes}`);
  return `${lines.join('\n')}\n`;
}

/** The text `rsproxy --help` prints: the commands and where their options are. */
export function renderUsage(specs: readonly CommandSpec[]): string {
  return [
    'Usage: rsproxy <command> [options]',
    '',
    'Commands:',
    ...table(specs.map((s) => [s.name, s.summary])),
    '',
    'Run `rsproxy <command> --help` for the options of one command.',
    'Exit codes: 0 ok, 1 usage/config error, 2 runtime failure, 3 denied (explain) or broken (audit verify), 130 SIGINT, 143 SIGTERM.',
    '',
  ].join('\n');
}
