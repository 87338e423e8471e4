#!/usr/bin/env node
/** The `rsproxy` binary of the npm package: every command of dispatch.ts. */
import { main } from './dispatch.js';

const code = await main(process.argv.slice(2));
process.exitCode = code;
// A lingering keep-alive socket (AWS SDK agents) must not hold the exit.
setTimeout(() => process.exit(code), 2000).unref();
