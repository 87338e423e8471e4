/** The demo's embedded upstream database: PGlite behind a small TLS front that speaks SSLRequest. */
import { cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import tls from 'node:tls';
import type { SqlRunner } from './sample-data.js';

/** A running embedded upstream. */
export interface EmbeddedUpstream {
  host: string;
  port: number;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options for the embedded upstream. */
export interface EmbeddedUpstreamOptions {
  certPem: string;
  keyPem: string;
  /** PGlite serialises queries; this only bounds how many sessions it multiplexes. */
  maxConnections?: number;
  /**
   * An initialised PGlite data directory to copy for this run (created on first use). PGlite's
   * initdb takes ~20 s under WebAssembly; copying a template takes well under a second.
   */
  templateDir?: string;
  /** Runs once on a fresh template before it is saved (the demo's sample data), so later runs copy it ready-made. */
  templateInit?: (run: SqlRunner) => Promise<unknown>;
}

type PGliteModule = typeof import('@electric-sql/pglite');

async function ensureTemplate(PGlite: PGliteModule['PGlite'], templateDir: string, init: EmbeddedUpstreamOptions['templateInit']): Promise<void> {
  if (existsSync(templateDir)) return;
  mkdirSync(dirname(templateDir), { recursive: true, mode: 0o700 });
  // Build next to the final path and rename, so two first runs never see a half-made template.
  const building = mkdtempSync(`${templateDir}.building-`);
  const db = await PGlite.create(join(building, 'data'));
  try {
    await init?.(async (sql) => (await db.exec(sql)).at(-1)?.rows ?? []);
  } finally {
    await db.close();
  }
  try {
    renameSync(join(building, 'data'), templateDir);
  } catch {
    // Another run won the race; its template is as good as ours.
  }
  rmSync(building, { recursive: true, force: true });
}

/** Opens PGlite on a private copy of the template, or in memory without one. */
async function openDatabase(PGlite: PGliteModule['PGlite'], templateDir: string | undefined, init: EmbeddedUpstreamOptions['templateInit']): Promise<{ db: InstanceType<PGliteModule['PGlite']>; cleanup(): void }> {
  if (templateDir === undefined) return { db: await PGlite.create(), cleanup: () => {} };
  await ensureTemplate(PGlite, templateDir, init);
  const runDir = mkdtempSync(`${templateDir}.run-`);
  cpSync(templateDir, join(runDir, 'data'), { recursive: true });
  return { db: await PGlite.create(join(runDir, 'data')), cleanup: () => rmSync(runDir, { recursive: true, force: true }) };
}

const sslRequest = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/**
 * Starts PGlite (imported lazily, so only the demo pays for it) and a TLS front on 127.0.0.1.
 * PGlite's socket server answers SSLRequest with 'N'; the proxy never logs in upstream without TLS,
 * so the front answers 'S', terminates TLS and relays plaintext to PGlite on loopback.
 * PGlite checks no password: the demo's `--upstream postgres://…` mode is the real-password path.
 */
export async function startEmbeddedUpstream(opts: EmbeddedUpstreamOptions): Promise<EmbeddedUpstream> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const { db, cleanup } = await openDatabase(PGlite, opts.templateDir, opts.templateInit);
  const inner = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1', maxConnections: opts.maxConnections ?? 64 });
  await inner.start();
  const innerPort = Number(inner.getServerConn().split(':').pop());
  const secureContext = tls.createSecureContext({ cert: opts.certPem, key: opts.keyPem, minVersion: 'TLSv1.2' });
  const sockets = new Set<net.Socket>();

  const front = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    raw.on('error', () => raw.destroy());
    raw.once('readable', function onReadable() {
      const head = raw.read(8) as Buffer | null;
      if (head === null) {
        raw.once('readable', onReadable);
        return;
      }
      if (!head.equals(sslRequest) || raw.readableLength > 0) {
        raw.destroy();
        return;
      }
      raw.write('S');
      const secure = new tls.TLSSocket(raw, { isServer: true, secureContext });
      secure.on('error', () => secure.destroy());
      const backend = net.connect(innerPort, '127.0.0.1');
      backend.setNoDelay(true);
      backend.on('error', () => secure.destroy());
      secure.on('close', () => backend.destroy());
      backend.on('close', () => secure.destroy());
      secure.pipe(backend);
      backend.pipe(secure);
    });
  });
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(0, '127.0.0.1', () => resolve());
  });
  const address = front.address() as net.AddressInfo;

  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => front.close(() => resolve()));
    await inner.stop();
    await db.close();
    cleanup();
  };
  return { host: '127.0.0.1', port: address.port, close, [Symbol.asyncDispose]: close };
}
