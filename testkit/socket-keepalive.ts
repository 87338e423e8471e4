/** Reads a live TCP socket's keepalive timer from the kernel (`ss -tno`), since Node cannot read the option back. */
import { execFileSync, spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

/** The keepalive state of one socket: whether its keepalive timer runs, and the time left until the next probe. */
export interface KeepAliveTimer {
  isOn: boolean;
  remainingMs?: number;
}

const missing = 'ss (iproute2) not found';

/** True when `ss` can be run here. */
export function ssAvailable(): boolean {
  return spawnSync('ss', ['-V'], { encoding: 'utf8' }).status === 0;
}

/** Gate for tests needing ss: true when available; else throws under CI=true, or skips `t` and returns false. */
export function requireSs(t: TestContext): boolean {
  if (ssAvailable()) return true;
  if (process.env['CI'] === 'true') throw new Error(`${missing} (CI=true: ss is required)`);
  t.skip(missing);
  return false;
}

/** Parses an ss timer duration such as `59sec`, `1min59sec`, `1h2min`, `200ms` to milliseconds. */
export function parseSsDuration(text: string): number {
  const units: Record<string, number> = { ms: 1, sec: 1000, min: 60_000, h: 3_600_000 };
  let total = 0;
  let matched = '';
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|sec|min|h)/g)) {
    total += Number(m[1]) * units[m[2]!]!;
    matched += m[0];
  }
  if (matched !== text) throw new Error(`unparsed ss duration: ${text}`);
  return total;
}

/**
 * The keepalive timer of the established TCP socket bound to 127.0.0.1/::1 `localPort` (exactly one must exist).
 * The kernel shows the keepalive timer only while no other timer (retransmit, probe) runs: call it on an idle socket.
 */
export function readKeepAliveTimer(localPort: number): KeepAliveTimer {
  const out = execFileSync('ss', ['-tnoH', 'state', 'established', `sport = :${localPort}`], { encoding: 'utf8' });
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== 1) throw new Error(`expected one socket on local port ${localPort}, ss shows ${lines.length}: ${out}`);
  const m = /timer:\(keepalive,([^,]+),\d+\)/.exec(lines[0]!);
  return m === null ? { isOn: false } : { isOn: true, remainingMs: parseSsDuration(m[1]!) };
}
