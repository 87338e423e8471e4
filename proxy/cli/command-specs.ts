/** Every command's option table, in the order help and the reference list them. */
import { clientSpecs } from './client-specs.js';
import type { CommandSpec } from './options.js';
import { auditCommandSpec, operatorSpecs, versionCommandSpec } from './operator-specs.js';

const byName = (name: string, specs: readonly CommandSpec[]): CommandSpec => {
  const spec = specs.find((s) => s.name === name);
  if (spec === undefined) throw new Error(`no option table for ${name}`);
  return spec;
};

const all = [...operatorSpecs, ...clientSpecs, auditCommandSpec, versionCommandSpec];

/** The commands of `rsproxy`, in help order. */
export const commandSpecs: readonly CommandSpec[] = ['serve', 'demo', 'token', 'connect', 'url', 'credentials', 'tunnel', 'check-config', 'explain', 'policy', 'audit', 'version'].map((n) => byName(n, all));

/** The table of one command (throws for a name without one: a programming error). */
export function specOf(name: string): CommandSpec {
  return byName(name, commandSpecs);
}
