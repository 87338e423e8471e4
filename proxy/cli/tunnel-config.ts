/**
 * `rsproxy tunnel --config FILE`: several tunnels from one YAML file (docs/design/surface.md §13), a list `tunnels:` of
 * entries with the flags' names. Every entry is checked before anything listens; a bad one is refused by its index and field.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { UsageError } from '../errors/exit-codes.js';
import { formatPath } from '../config/config.js';
import { maxTokenReuseSeconds } from '../tunnel/token-reuse.js';
import { tunnelSslModes } from './client-specs.js';
import { listenKey, planOf } from './tunnel-plan.js';
import type { TunnelPlan, TunnelSettings } from './tunnel-plan.js';

const text = z.string().min(1);

/** One entry of `tunnels:`; the same bounds as the flags' table. */
export const tunnelEntrySchema = z.strictObject({
  host: text,
  port: z.int().min(1).max(65535).optional(),
  listen: text.optional(),
  unixSocket: text.optional(),
  user: text.optional(),
  dbname: text.optional(),
  profile: text.optional(),
  region: text.optional(),
  audience: text.optional(),
  sslmode: z.enum(tunnelSslModes).optional(),
  sslrootcert: text.optional(),
  tokenReuseSeconds: z.int().min(0).max(maxTokenReuseSeconds).optional(),
  localTls: z.boolean().optional(),
});

/** The whole file: at least one tunnel. */
export const tunnelFileSchema = z.strictObject({ tunnels: z.array(tunnelEntrySchema).min(1) });

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Checks a parsed file value into one plan per entry; UsageError listing every problem (`tunnels[1].port: …`). */
export function tunnelPlansOf(value: unknown, source: string, env: NodeJS.ProcessEnv = process.env): TunnelPlan[] {
  const parsed = tunnelFileSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    const lines = parsed.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((k) => `${formatPath([...issue.path, k])}: unknown key`)
        : [`${formatPath(issue.path)}: ${issue.message} (${issue.input === undefined ? 'missing' : `got ${show(issue.input)}`})`],
    );
    throw new UsageError(`${source}: ${lines.join('; ')}`);
  }
  const seen = new Map<string, number>();
  return parsed.data.tunnels.map((entry, i) => {
    const name = (field: keyof TunnelSettings): string => `tunnels[${i}].${field}`;
    let plan: TunnelPlan;
    try {
      plan = planOf(entry, name, env);
    } catch (err) {
      throw new UsageError(`${source}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const key = listenKey(plan);
    const other = key === undefined ? undefined : seen.get(key);
    if (other !== undefined) throw new UsageError(`${source}: ${name(plan.listen.kind === 'unix' ? 'unixSocket' : 'listen')}: the same address as tunnels[${other}]`);
    if (key !== undefined) seen.set(key, i);
    return plan;
  });
}

/** Reads and checks the file; UsageError (exit 1) when it cannot be read, parsed, or an entry is bad. */
export function loadTunnelConfig(file: string, env: NodeJS.ProcessEnv = process.env): TunnelPlan[] {
  let value: unknown;
  try {
    value = parseYaml(readFileSync(file, 'utf8'), { uniqueKeys: true });
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message.split('\n')[0] : String(err));
    throw new UsageError(`--config: cannot read ${file}: ${reason}`, { cause: err });
  }
  return tunnelPlansOf(value, file, env);
}
