/**
 * The single executable's entry (bundled to one CommonJS file by deploy/exe/build-exe.ts): every command of
 * dispatch.ts but `demo`, whose embedded PostgreSQL (WASM files) does not fit in one file.
 */
import { commands, main } from './dispatch.js';
import type { CommandTable } from './dispatch.js';

/** The commands the single executable holds. */
export const exeCommands: CommandTable = Object.fromEntries(Object.entries(commands).filter(([name]) => name !== 'demo'));

// No top-level await: the bundle is CommonJS.
void main(process.argv.slice(2), exeCommands).then((code) => {
  process.exitCode = code;
  // A lingering keep-alive socket (AWS SDK agents) must not hold the exit.
  setTimeout(() => process.exit(code), 2000).unref();
});
