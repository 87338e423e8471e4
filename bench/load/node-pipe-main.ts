/**
 * bench/node-pipe.ts in a process of its own, so the load bench can read its memory apart from everything
 * else: `node node-pipe-main.js UPSTREAM_PORT CERT_FILE KEY_FILE CA_FILE` prints `{"port":N}` once it
 * listens and stops on SIGTERM (or when its parent's stdin closes); forked with IPC, it answers the bench's 'gc'.
 */
import { readFileSync } from 'node:fs';
import { startNodePipe } from '../node-pipe.js';
import { installGcHook } from './gc-hook.js';

const [upstreamPort, certFile, keyFile, caFile] = process.argv.slice(2);
if (upstreamPort === undefined || certFile === undefined || keyFile === undefined || caFile === undefined) {
  process.stderr.write('usage: node-pipe-main.js UPSTREAM_PORT CERT_FILE KEY_FILE CA_FILE\n');
  process.exit(2);
}
const pipe = await startNodePipe({
  upstreamHost: '127.0.0.1',
  upstreamPort: Number(upstreamPort),
  cert: readFileSync(certFile, 'utf8'),
  key: readFileSync(keyFile, 'utf8'),
  ca: readFileSync(caFile, 'utf8'),
});
process.stdout.write(`${JSON.stringify({ port: pipe.port })}\n`);
installGcHook();
const stop = (): void => void pipe.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
// An orphaned pipe (the bench died) stops too.
process.stdin.on('end', stop).resume();
