/** The load bench's client side: held sessions, login churn and silent (slowloris) sockets, all bounded. */
import * as net from 'node:net';
import pg from 'pg';
import { timeLogin } from '../login-latency.js';
import type { LoginAs } from './targets.js';

/** Runs `work(i)` for i in 0..count-1 with at most `concurrency` at a time; rejects on the first failure. */
export async function inParallel(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** Opens `count` TLS sessions to 127.0.0.1:port, each running `SELECT 1`, and keeps them open. */
export async function openSessions(port: number, as: LoginAs, caPem: string, count: number, concurrency = 16): Promise<pg.Client[]> {
  const clients: pg.Client[] = [];
  try {
    await inParallel(count, concurrency, async () => {
      const client = new pg.Client({ host: '127.0.0.1', port, ...as, ssl: { ca: caPem }, connectionTimeoutMillis: 30_000 });
      client.on('error', () => {});
      clients.push(client);
      await client.connect();
      await client.query('SELECT 1');
    });
  } catch (err) {
    await closeSessions(clients);
    throw err;
  }
  return clients;
}

/** Ends every session (Terminate, then close). */
export async function closeSessions(clients: pg.Client[]): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => {})));
}

/** `count` logins (connect to ReadyForQuery, then close) by `clients` concurrent clients; the rate in logins/s. */
export async function churn(port: number, as: LoginAs, caPem: string, count: number, clients: number): Promise<{ logins: number; seconds: number; perSecond: number }> {
  const start = process.hrtime.bigint();
  await inParallel(count, clients, async () => {
    await timeLogin({ host: '127.0.0.1', port, ...as, caPem });
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { logins: count, seconds, perSecond: count / seconds };
}

/** One silent socket's fate: when it closed (ms after connect) and what it was sent. */
export interface SilentSocket {
  source: string;
  closedAfterMs?: number;
  bytesReceived: number;
}

/** The i-th loopback source address other than 127.0.0.1: 127.0.2.1, 127.0.2.2, … (all of 127/8 is local on Linux). */
export function loopbackSource(i: number): string {
  return `127.0.${2 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

/** Opens `count` sockets from distinct loopback sources that never send a byte; resolves once all are connected. */
export async function openSilentSockets(port: number, count: number): Promise<{ sockets: SilentSocket[]; destroy(): void }> {
  const raw: net.Socket[] = [];
  const sockets: SilentSocket[] = [];
  await inParallel(count, 32, async (i) => {
    const record: SilentSocket = { source: loopbackSource(i), bytesReceived: 0 };
    sockets.push(record);
    const s = net.connect({ host: '127.0.0.1', port, localAddress: record.source });
    raw.push(s);
    s.on('data', (d: Buffer) => (record.bytesReceived += d.length));
    s.on('error', () => {});
    await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
    const connectedAt = Date.now();
    s.once('close', () => (record.closedAfterMs = Date.now() - connectedAt));
  });
  return { sockets, destroy: () => raw.forEach((s) => s.destroy()) };
}
