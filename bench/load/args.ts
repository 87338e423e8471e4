/** Command-line options of bench/load/run.ts, every count bounded; `--short` is the CI shape check. */
import { intFlag, strFlag } from '../args.js';

/** Parsed command line of the load bench. */
export interface LoadOptions {
  /** Idle sessions held per target. */
  sessions: number;
  /** Logins per churn round. */
  logins: number;
  /** Concurrent clients in the churn. */
  clients: number;
  rounds: number;
  /** Silent sockets in the slowloris phase. */
  slowSockets: number;
  /** `limits.loginTimeoutMs` of the slowloris phase's proxy. */
  slowLoginTimeoutMs: number;
  /** Pause before each memory reading, so freed buffers and timers settle. */
  settleMs: number;
  withPgbouncer: boolean;
  short: boolean;
  jsonFile?: string;
}

/** Parses argv; `--short` (or `--quick`) gives tiny defaults that explicit flags still override. */
export function parseLoadArgs(argv: string[]): LoadOptions {
  const short = argv.includes('--short') || argv.includes('--quick');
  const jsonFile = strFlag(argv, 'json');
  return {
    sessions: intFlag(argv, 'sessions', short ? 20 : 1000, 1, 5000),
    logins: intFlag(argv, 'logins', short ? 40 : 2000, 1, 20000),
    clients: intFlag(argv, 'clients', 8, 1, 64),
    rounds: intFlag(argv, 'rounds', 3, 2, 10),
    slowSockets: intFlag(argv, 'slow', short ? 20 : 300, 1, 2000),
    slowLoginTimeoutMs: intFlag(argv, 'slow-login-timeout-ms', 1000, 1000, 10000),
    settleMs: intFlag(argv, 'settle-ms', short ? 200 : 2000, 0, 30000),
    withPgbouncer: !argv.includes('--no-pgbouncer'),
    short,
    ...(jsonFile === undefined ? {} : { jsonFile }),
  };
}
