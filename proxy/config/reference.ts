/** Renders docs/reference/configuration.md from the config schema, so the page cannot drift from the code. */
import { configSchema, scalarKeys } from './schema.js';

interface Node {
  _zod: { def: { type: string; innerType?: Node; element?: Node; shape?: Record<string, Node>; valueType?: Node; defaultValue?: unknown; options?: Node[]; entries?: Record<string, string> } };
  description?: string | undefined;
}

interface Row {
  key: string;
  type: string;
  defaultText: string;
  description: string;
}

function unwrap(schema: Node): { base: Node; description: string | undefined; defaultValue: unknown; isOptional: boolean } {
  let s = schema;
  let description = schema.description;
  let defaultValue: unknown;
  let isOptional = false;
  while (['default', 'prefault', 'optional', 'nullable'].includes(s._zod.def.type) && s._zod.def.innerType !== undefined) {
    if (s._zod.def.type === 'default') defaultValue = s._zod.def.defaultValue;
    if (s._zod.def.type === 'optional') isOptional = true;
    s = s._zod.def.innerType;
    description ??= s.description;
  }
  return { base: s, description, defaultValue, isOptional };
}

function typeName(base: Node): string {
  const d = base._zod.def;
  if (d.type === 'enum' && d.entries !== undefined) return Object.values(d.entries).join(' | ');
  if (d.type === 'array' && d.element !== undefined) return `list of ${typeName(unwrap(d.element).base)}`;
  if (d.type === 'union') return (d.options ?? []).map((o) => typeName(unwrap(o).base)).join(' | ');
  if (d.type === 'literal') return 'literal';
  return d.type;
}

function walk(shape: Record<string, Node>, prefix: string, rows: Row[]): void {
  for (const [key, child] of Object.entries(shape)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const { base, description, defaultValue, isOptional } = unwrap(child);
    const d = base._zod.def;
    const defaultText = defaultValue !== undefined ? `\`${JSON.stringify(defaultValue)}\`` : isOptional ? '(unset)' : '';
    if (d.type === 'object' && d.shape !== undefined) {
      if (description !== undefined) rows.push({ key: path, type: 'mapping', defaultText, description });
      walk(d.shape, path, rows);
    } else if (d.type === 'record' && d.valueType !== undefined) {
      rows.push({ key: path, type: 'mapping of name →', defaultText, description: description ?? '' });
      const value = unwrap(d.valueType).base;
      if (value._zod.def.shape !== undefined) walk(value._zod.def.shape, `${path}.<name>`, rows);
    } else if (d.type === 'array' && d.element !== undefined && unwrap(d.element).base._zod.def.shape !== undefined) {
      rows.push({ key: path, type: 'list of mappings', defaultText, description: description ?? '' });
      walk(unwrap(d.element).base._zod.def.shape!, `${path}[]`, rows);
    } else {
      rows.push({ key: path, type: typeName(base), defaultText, description: description ?? '' });
    }
  }
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The whole configuration reference page as Markdown. */
export function renderConfigReference(): string {
  const rows: Row[] = [];
  walk((configSchema as unknown as { shape: Record<string, Node> }).shape, '', rows);
  const lines = [
    '# Configuration reference',
    '',
    'Generated from `proxy/config/schema.ts` by `npm run docs:reference`; a unit test fails when this page is stale.',
    'The file is YAML (JSON also accepted); unknown keys are errors. Precedence: flag > `RSPROXY_*` env > file > default.',
    'A complete example with every key is [deploy/rsproxy.example.yaml](../../deploy/rsproxy.example.yaml).',
    '',
    '## Keys',
    '',
    '| key | type | default | what it does |',
    '|---|---|---|---|',
    ...rows.map((r) => `| \`${r.key}\` | ${cell(r.type)} | ${r.defaultText} | ${cell(r.description)} |`),
    '',
    '## Flags and environment variables',
    '',
    'Every scalar or string-list key can be set by `rsproxy serve --<flag> VALUE` or by an environment variable; lists are comma-separated.',
    '',
    '| key | flag | environment variable |',
    '|---|---|---|',
    ...scalarKeys.map((k) => `| \`${k.path.join('.')}\` | \`--${k.flag}\` | \`${k.env}\` |`),
    '',
  ];
  return lines.join('\n');
}
