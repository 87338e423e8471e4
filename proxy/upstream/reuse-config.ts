/** Builds the upstream session reuse pool from the config: bounds fixed at start, the on/off switch read at each login (so a reload applies). */
import { systemClock } from '../../auth/types.js';
import type { Logger } from '../../auth/types.js';
import type { RsproxyConfig } from '../config/config.js';
import type { ReuseObserver } from '../telemetry/reuse-metrics.js';
import { UpstreamReusePool } from './reuse-pool.js';

/** True when reuse is on for `database`: its `databases.<name>.reuse`, else `reuse.enabled`; never while audit.statements records statements. */
export function isReuseEnabledFor(config: Pick<RsproxyConfig, 'reuse' | 'databases' | 'audit'>, database: string): boolean {
  // Statement capture and reuse each take the relay's client → upstream path; with both on, the statements win.
  if (auditsStatements(config)) return false;
  return config.databases[database]?.reuse ?? config.reuse.enabled;
}

/** Whether audit.statements records statements (then no upstream session is reused). */
export function auditsStatements(config: Pick<RsproxyConfig, 'audit'>): boolean {
  return config.audit.file !== '' && config.audit.statements !== 'off';
}

/** The proxy's reuse pool; `config()` returns the current (reloaded) config. */
export function createReusePool(config: () => RsproxyConfig, logger: Logger, observer: ReuseObserver): UpstreamReusePool {
  const initial = config();
  return new UpstreamReusePool({
    limits: initial.reuse,
    isEnabledFor: (database) => isReuseEnabledFor(config(), database),
    keepAliveSeconds: initial.limits.tcpKeepAliveSeconds,
    clock: systemClock,
    logger,
    observer,
  });
}
