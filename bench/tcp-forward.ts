/**
 * The floor for any proxy hop: socat (C, one process per connection) forwarding TCP bytes to PostgreSQL,
 * with TLS end to end between pgbench and PostgreSQL, so the hop does no crypto and no parsing at all.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from '../testkit/free-port.js';
import { canConnect } from './pgbouncer.js';
import { procCpuMicros } from './proc-cpu.js';

/** Default binary location (SOCAT_BIN overrides). */
export function socatBin(): string {
  return process.env['SOCAT_BIN'] ?? '/usr/bin/socat';
}

/** A running forwarder. */
export interface TcpForward {
  port: number;
  /** CPU (µs) of socat and of the per-connection children it has reaped. */
  cpuMicros(): number | undefined;
  stop(): Promise<void>;
}

/** Starts socat on a free loopback port in front of `upstreamPort`, or returns undefined when socat is missing. */
export async function startTcpForward(upstreamPort: number): Promise<TcpForward | undefined> {
  if (!existsSync(socatBin())) return undefined;
  const port = await freePort();
  const child = spawn(socatBin(), [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork,nodelay`, `TCP:127.0.0.1:${upstreamPort},nodelay`], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  };
  const deadline = Date.now() + 5000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error('socat did not start');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const pid = child.pid;
  return { port, stop, cpuMicros: () => (pid === undefined ? undefined : procCpuMicros(pid, true)) };
}
