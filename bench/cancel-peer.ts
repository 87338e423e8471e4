/**
 * Cancel latency across replicas (docs/design/surface.md §9): two `rsproxy serve` replicas on 127.0.0.2 and
 * 127.0.0.3 with static peers, one PostgreSQL, the emulator. A session on the owner runs pg_sleep(30);
 * a CancelRequest goes either to the owner or to the other replica (which forwards it over TLS),
 * alternately; the time from sending it to the client's 57014 is measured. Bounded: --cancels per
 * path (4..500, default 50), cancels paced under the per-source cancel limit.
 */
import type pg from 'pg';
import { sendCancel, sleepingSession, startFleet, startSleep } from '../testkit/fleet.js';
import type { Replica, SleepingSession } from '../testkit/fleet.js';
import { startIamStack } from '../testkit/iam-stack.js';
import type { IamStack } from '../testkit/iam-stack.js';
import { sleep } from '../testkit/wait.js';
import { summarize } from './login-latency.js';
import type { LatencyStats } from './login-latency.js';

/** Latencies of both paths, measured in one run. */
export interface CancelBenchResult {
  owner: LatencyStats;
  viaPeer: LatencyStats;
}

/** Per-source cancel limit is 10/s on each replica; stay under it. */
const minGapPerReplicaMs = 120;

async function timeCancel(stack: IamStack, via: Replica, s: SleepingSession): Promise<number> {
  const start = process.hrtime.bigint();
  await sendCancel(stack, via, s.pid, s.secret);
  try {
    await s.running;
  } catch (err) {
    if ((err as pg.DatabaseError).code !== '57014') throw err;
    return Number(process.hrtime.bigint() - start) / 1e6;
  }
  throw new Error('the query finished without being cancelled');
}

/** Runs `cancels` cancels per path, interleaved, on one session; returns both latency summaries. */
export async function runCancelBench(cancels: number, log: (line: string) => void = () => {}): Promise<CancelBenchResult> {
  if (!Number.isInteger(cancels) || cancels < 4 || cancels > 500) throw new Error('--cancels must be an integer from 4 to 500');
  const stack = await startIamStack({ logLevel: 'warn' });
  try {
    const fleet = await startFleet({ stack, hosts: ['127.0.0.2', '127.0.0.3'], cluster: (self, all) => ({ self, peers: [...all] }) });
    try {
      const [owner, other] = fleet.replicas as [Replica, Replica];
      const s = await sleepingSession(stack, owner);
      const samples = { owner: [] as number[], viaPeer: [] as number[] };
      const lastSent = new Map<Replica, number>();
      try {
        for (let i = 0; i < 2 * cancels; i++) {
          if (i > 0) await startSleep(stack, s);
          const via = i % 2 === 0 ? other : owner;
          const waitMs = (lastSent.get(via) ?? 0) + minGapPerReplicaMs - Date.now();
          if (waitMs > 0) await sleep(waitMs);
          lastSent.set(via, Date.now());
          (via === owner ? samples.owner : samples.viaPeer).push(await timeCancel(stack, via, s));
          if (i % 20 === 19) log(`${i + 1}/${2 * cancels} cancels`);
        }
      } finally {
        await s.close();
      }
      return { owner: summarize(samples.owner), viaPeer: summarize(samples.viaPeer) };
    } finally {
      await fleet.close();
    }
  } finally {
    await stack.close();
  }
}

/** The results table. */
export function formatCancelBench(r: CancelBenchResult): string {
  const row = (name: string, s: LatencyStats): string =>
    `${name.padEnd(36)}${String(s.count).padStart(4)}${s.medianMs.toFixed(2).padStart(11)}${s.p95Ms.toFixed(2).padStart(9)}${s.maxMs.toFixed(2).padStart(9)}`;
  return [
    `${'cancel (send → 57014 at the client)'.padEnd(36)}   n  median ms   p95 ms   max ms`,
    row('to the owning replica', r.owner),
    row('to another replica (peer forward)', r.viaPeer),
    `peer forward adds: median ${(r.viaPeer.medianMs - r.owner.medianMs).toFixed(2)} ms, p95 ${(r.viaPeer.p95Ms - r.owner.p95Ms).toFixed(2)} ms`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--cancels');
  const cancels = i < 0 ? 50 : Number(process.argv[i + 1]);
  runCancelBench(cancels, (l) => process.stderr.write(`${l}\n`)).then(
    (r) => process.stdout.write(`rsproxy bench: cancel latency, 2 replicas on loopback, ${cancels} cancels per path\n\n${formatCancelBench(r)}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
