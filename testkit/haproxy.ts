/**
 * The real HAProxy (Debian `haproxy`) as the fleet's load balancer on loopback: tcp mode, PROXY protocol to
 * every backend, a generated config in a temp dir, run in the foreground and stopped by the caller.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

/** The binary (HAPROXY_BIN overrides). */
export function haproxyBin(): string {
  return process.env['HAPROXY_BIN'] ?? '/usr/sbin/haproxy';
}

/** True when the HAProxy binary is installed. */
export function haproxyAvailable(): boolean {
  return existsSync(haproxyBin());
}

/** One frontend: a loopback port spreading connections over `backendPorts` with `balance`. */
export interface HaproxyFrontend {
  name: string;
  /** `roundrobin` spreads; `source` pins a client address to one replica (so a cancel lands where its session is). */
  balance: 'roundrobin' | 'source' | 'first';
  /** Overrides HaproxyOptions.proxyProtocol for this frontend. */
  proxyProtocol?: 'send-proxy-v2' | 'send-proxy';
}

/** Options of startHaproxy. */
export interface HaproxyOptions {
  backendPorts: number[];
  /** The host of each backend, by index (default 127.0.0.1 for all). */
  backendHosts?: readonly string[];
  frontends: HaproxyFrontend[];
  /** `send-proxy-v2` (default, what an AWS NLB sends) or `send-proxy` (v1). */
  proxyProtocol?: 'send-proxy-v2' | 'send-proxy';
  /** Source address of HAProxy's connections to the replicas (the address replicas must trust). */
  sourceAddress: string;
  /** TCP health checks that open with a PROXY v2 LOCAL header, every this many ms (default 1000; 0 = none). */
  checkIntervalMs?: number;
}

/** A running HAProxy. */
export interface Haproxy {
  /** Listening port of each frontend, by name. */
  ports: Record<string, number>;
  /** The generated configuration text. */
  config: string;
  /** stderr/stdout of HAProxy, for assertion messages. */
  output(): string;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

/** Writes a config and starts `haproxy -db -f` on it; resolves once every frontend accepts connections. */
export async function startHaproxy(opts: HaproxyOptions): Promise<Haproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'rsproxy-haproxy-'));
  const ports: Record<string, number> = {};
  const checkMs = opts.checkIntervalMs ?? 1000;
  const lines = ['global', '  maxconn 512', 'defaults', '  mode tcp', '  timeout connect 2s', '  timeout client 120s', '  timeout server 120s'];
  for (const f of opts.frontends) {
    const sendProxy = f.proxyProtocol ?? opts.proxyProtocol ?? 'send-proxy-v2';
    ports[f.name] = await freePort();
    lines.push(`listen ${f.name}`, `  bind 127.0.0.1:${ports[f.name]}`, `  balance ${f.balance}`);
    opts.backendPorts.forEach((p, i) => {
      const check = checkMs > 0 ? ` check inter ${checkMs}ms check-send-proxy` : '';
      lines.push(`  server r${i + 1} ${opts.backendHosts?.[i] ?? '127.0.0.1'}:${p} ${sendProxy} source ${opts.sourceAddress}${f.balance === 'first' ? ' maxconn 1000' : ''}${check}`);
    });
  }
  const config = `${lines.join('\n')}\n`;
  const configPath = join(dir, 'haproxy.cfg');
  writeFileSync(configPath, config);
  let output = '';
  const child = spawn(haproxyBin(), ['-db', '-f', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (c: Buffer) => (output = `${output}${c.toString('utf8')}`.slice(-8000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (const name of Object.keys(ports)) {
    while (!(await canConnect(ports[name]!))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`haproxy did not start:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { ports, config, output: () => output, stop, [Symbol.asyncDispose]: stop };
}
