/** docs/reference/cli.md, rendered from the same option tables as every command's parser and --help. */
import { commandSpecs } from './command-specs.js';
import { environmentOf, optionFacts, sectionsOf, synopsisOf } from './help.js';
import { configFlagSection } from './operator-specs.js';
import type { CommandSpec, OptionDef } from './options.js';

/** Markdown text: `<` and `*` escaped outside code spans, so `sts.<region>` and `RSPROXY_*` print as written. */
const text = (s: string): string => s.split('`').map((part, i) => (i % 2 === 1 ? part : part.replace(/</g, '&lt;').replace(/\*/g, '\\*'))).join('`');
const cell = (s: string): string => text(s).replace(/\|/g, '\\|');
const code = (s: string): string => `\`${s}\``;

function optionRow(o: OptionDef): string {
  const flag = `${o.short === undefined ? '' : `${code(`-${o.short}`)}, `}${code(`--${o.name}`)}`;
  const value = o.type === 'boolean' ? '' : code(o.valueName ?? 'VALUE');
  return `| ${flag} | ${cell(value)} | ${cell([o.description, ...optionFacts(o)].join(' '))} |`;
}

function commandSection(spec: CommandSpec): string[] {
  const lines = [`## ${spec.name}`, '', code(`rsproxy ${spec.name} ${synopsisOf(spec)}`.trimEnd()), '', ...(spec.description ?? [spec.summary]).flatMap((d) => [text(d), ''])];
  for (const [title, options] of sectionsOf(spec)) {
    if (options.length === 0) continue;
    if (title === configFlagSection) {
      // The keys are documented once, on the page generated from the schema.
      lines.push(`${text(title)}: every config key is also a flag, \`--<key-path> VALUE\` (\`limits.loginTimeoutMs\` → \`--limits-login-timeout-ms\`); the keys, their values, defaults and \`RSPROXY_*\` variables are in [configuration.md](configuration.md).`, '');
      continue;
    }
    lines.push(`${text(title)}:`, '', '| option | value | description |', '|---|---|---|', ...options.map(optionRow), '');
  }
  if (spec.positionals !== undefined) lines.push(`Arguments: ${code(spec.positionals.name)}: ${text(spec.positionals.description)}`, '');
  const env = environmentOf(spec);
  if (env.length > 0) lines.push('Environment:', '', ...env.map(([name, what]) => `- ${code(name)}: ${text(what)}`), '');
  lines.push(`Exit codes: ${text(spec.exitCodes)}`, '');
  return lines;
}

/** The Markdown of docs/reference/cli.md. */
export function renderCliReference(specs: readonly CommandSpec[] = commandSpecs): string {
  return [
    '# rsproxy command-line reference',
    '',
    '<!-- Generated from the option tables in proxy/cli/ by `npm run docs:reference`; do not edit by hand. -->',
    '',
    'One binary, `rsproxy <command> [options]`. Every command prints this content for its part with `rsproxy <command> --help` (or `-h`).',
    'An unknown option is a usage error (exit 1) that names the option.',
    '',
    'Exit codes: 0 ok, 1 usage or config error, 2 runtime failure, 3 denied (`explain`) or broken (`audit verify`), 130 SIGINT, 143 SIGTERM.',
    '',
    '| command | what it does |',
    '|---|---|',
    ...specs.map((s) => `| [${code(s.name)}](#${s.name}) | ${cell(s.summary)} |`),
    '',
    ...specs.flatMap(commandSection),
  ]
    .join('\n')
    .replace(/\n+$/, '\n');
}
