/**
 * `rsproxy serve` for the load bench: the product's runServe in a child of its own (so its RSS is its own),
 * plus the bench's GC hook. Usage: node --expose-gc rsproxy-main.js CONFIG_FILE (forked with IPC); SIGTERM stops it.
 */
import { runServe } from '../../proxy/cli/run-serve.js';
import { installGcHook } from './gc-hook.js';

const configPath = process.argv[2];
if (configPath === undefined) {
  process.stderr.write('usage: rsproxy-main.js CONFIG_FILE\n');
  process.exit(2);
}
const handle = await runServe({ configPath, env: process.env });
installGcHook();
process.once('SIGTERM', () => handle.shutdown('SIGTERM'));
process.once('SIGINT', () => handle.shutdown('SIGINT'));
process.exit(await handle.done);
