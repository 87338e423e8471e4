/** Builds the upstream session reuse pool from the config: bounds fixed at start, the on/off switch read at each login (so a reload applies). */
import { systemClock } from '../../auth/types.js';
import type { Logger } from '../../auth/types.js';
import type { RsproxyConfig } from '../config/config.js';
import type { ReuseObserver } from '../telemetry/reuse-metrics.js';
import { UpstreamReusePool } from './reuse-pool.js';

/** True when reuse is on for `database`: its `databases.<name>.reuse`, else `reuse.enabled`. */
export function isReuseEnabledFor(config: Pick<RsproxyConfig, 'reuse' | 'databases'>, database: string): boolean {
  return config.databases[database]?.reuse ?? config.reuse.enabled;
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
