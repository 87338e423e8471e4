/** Command-line options of bench/run.ts, every count and duration bounded. */
import type { QueryMode } from './pgbench.js';

/** Parsed command line. */
export interface BenchOptions {
  seconds: number;
  clients: number;
  threads: number;
  logins: number;
  /** Rounds of every target (interleaved); tps is the mean. */
  rounds: number;
  modes: QueryMode[];
  withPgbouncer: boolean;
  jsonFile?: string;
  profileFile?: string;
}

/** The integer after `--name`, or `def`; throws unless it is an integer from min to max. */
export function intFlag(argv: string[], name: string, def: number, min: number, max: number): number {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer from ${min} to ${max}`);
  return n;
}

/** The string after `--name`, or undefined. */
export function strFlag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? undefined : argv[i + 1];
}

/** Parses argv; every count and duration is bounded. */
export function parseBenchArgs(argv: string[]): BenchOptions {
  const modes = (strFlag(argv, 'modes') ?? 'simple,prepared').split(',');
  for (const m of modes) if (m !== 'simple' && m !== 'extended' && m !== 'prepared') throw new Error(`--modes: unknown mode ${m}`);
  const jsonFile = strFlag(argv, 'json');
  const profileFile = strFlag(argv, 'profile');
  return {
    seconds: intFlag(argv, 'seconds', 10, 1, 120),
    clients: intFlag(argv, 'clients', 8, 1, 64),
    threads: intFlag(argv, 'threads', 2, 1, 16),
    logins: intFlag(argv, 'logins', 200, 4, 2000),
    rounds: intFlag(argv, 'rounds', 1, 1, 10),
    modes: modes as QueryMode[],
    withPgbouncer: !argv.includes('--no-pgbouncer'),
    ...(jsonFile === undefined ? {} : { jsonFile }),
    ...(profileFile === undefined ? {} : { profileFile }),
  };
}
