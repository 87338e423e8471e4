/** Result types and the printed tables of the load bench (bench/load/run.ts). */
import { fmt, lpad, pad } from '../format.js';

/** Memory of one target holding idle sessions. */
export interface IdleRow {
  target: string;
  sessions: number;
  rssBeforeBytes: number;
  rssHeldBytes: number;
  bytesPerSession: number;
  /** Node targets: V8 heap retained per session (after a full GC). */
  heapBytesPerSession?: number;
}

/** One run of logins: how many, how long, the rate. */
export interface ChurnRun {
  logins: number;
  seconds: number;
  perSecond: number;
}

/** The churn phase: direct TLS once, rsproxy in rounds with its RSS after each. */
export interface ChurnResult {
  clients: number;
  direct: ChurnRun;
  /** RSS (and V8 heap, after a full GC) at the end of each round. */
  rsproxy: Array<ChurnRun & { round: number; rssBytes: number; heapUsedBytes?: number }>;
  /** RSS after the last round minus after the first. */
  rssGrowthBytes: number;
  plateauPass: boolean;
}

/** The slowloris phase. */
export interface SlowlorisResult {
  sockets: number;
  sources: number;
  loginTimeoutMs: number;
  closedByTimeout: number;
  closedEarly: number;
  stillOpen: number;
  closeAfterMinMs: number;
  closeAfterMaxMs: number;
  bytesToSilentSockets: number;
  realLoginMs?: number;
  livezChecks: number;
  livezOk: number;
  pass: boolean;
}

const MiB = 1024 * 1024;
const verdict = (ok: boolean): string => (ok ? 'pass' : 'FAIL');

/** The idle table, ratios to node-pipe, and the rsproxy ≤ goal × node-pipe check. */
export function idleTable(rows: IdleRow[], goalRatio: number): string {
  const pipe = rows.find((r) => r.target === 'node-pipe');
  const lines = [`${pad('idle', 12)}${lpad('sessions', 9)}${lpad('RSS before MiB', 16)}${lpad('RSS held MiB', 14)}${lpad('KiB/session', 13)}${lpad('vs node-pipe', 14)}${lpad('heap KiB/session', 18)}`];
  for (const r of rows) {
    const ratio = pipe === undefined ? Number.NaN : r.bytesPerSession / pipe.bytesPerSession;
    lines.push(`${pad(r.target, 12)}${lpad(String(r.sessions), 9)}${lpad(fmt(r.rssBeforeBytes / MiB), 16)}${lpad(fmt(r.rssHeldBytes / MiB), 14)}${lpad(fmt(r.bytesPerSession / 1024), 13)}${lpad(`${fmt(ratio, 2)}x`, 14)}${lpad(r.heapBytesPerSession === undefined ? '' : fmt(r.heapBytesPerSession / 1024), 18)}`);
  }
  const rs = rows.find((r) => r.target === 'rsproxy');
  if (rs !== undefined && pipe !== undefined) {
    const ratio = rs.bytesPerSession / pipe.bytesPerSession;
    lines.push(`rsproxy/node-pipe per session = ${fmt(ratio, 2)} (goal ≤ ${fmt(goalRatio, 2)}: ${verdict(ratio <= goalRatio)})`);
  }
  return lines.join('\n');
}

/** The churn table and the RSS plateau check. */
export function churnTable(c: ChurnResult, goalMiB: number): string {
  const lines = [`${pad('churn', 12)}${lpad('round', 6)}${lpad('logins', 8)}${lpad('clients', 9)}${lpad('logins/s', 10)}${lpad('vs direct', 11)}${lpad('RSS MiB', 9)}${lpad('heap MiB', 10)}`];
  lines.push(`${pad('direct', 12)}${lpad('1', 6)}${lpad(String(c.direct.logins), 8)}${lpad(String(c.clients), 9)}${lpad(fmt(c.direct.perSecond), 10)}${lpad('1.00x', 11)}${lpad('', 9)}`);
  for (const r of c.rsproxy) {
    lines.push(`${pad('rsproxy', 12)}${lpad(String(r.round), 6)}${lpad(String(r.logins), 8)}${lpad(String(c.clients), 9)}${lpad(fmt(r.perSecond), 10)}${lpad(`${fmt(r.perSecond / c.direct.perSecond, 2)}x`, 11)}${lpad(fmt(r.rssBytes / MiB), 9)}${lpad(r.heapUsedBytes === undefined ? '' : fmt(r.heapUsedBytes / MiB), 10)}`);
  }
  lines.push(`RSS plateau: round 1 → round ${c.rsproxy.length} ${c.rssGrowthBytes >= 0 ? '+' : ''}${fmt(c.rssGrowthBytes / MiB)} MiB (goal < ${goalMiB} MiB: ${verdict(c.plateauPass)})`);
  return lines.join('\n');
}

/** One paragraph for the slowloris phase. */
export function slowlorisLine(s: SlowlorisResult): string {
  return [
    `slowloris: ${s.sockets} silent sockets from ${s.sources} loopback sources, loginTimeoutMs ${s.loginTimeoutMs}: ${s.closedByTimeout} closed by the timeout (${fmt(s.closeAfterMinMs, 0)}–${fmt(s.closeAfterMaxMs, 0)} ms after connect), ${s.closedEarly} early, ${s.stillOpen} still open; ${s.bytesToSilentSockets} bytes sent to them`,
    `real login meanwhile: ${s.realLoginMs === undefined ? 'FAILED' : `ok in ${fmt(s.realLoginMs, 1)} ms`}; /livez 200 in ${s.livezOk}/${s.livezChecks} checks: ${verdict(s.pass)}`,
  ].join('\n');
}
