/** Gating for tests that need an external tool: present → run; missing → fail under CI=true, else skip. */
import type { TestContext } from 'node:test';
import { spawnSync } from 'node:child_process';

/** True when `what` is available; otherwise fails the test under CI=true, or skips it with a message. */
export function requireTool(t: TestContext, what: string, isAvailable: boolean): boolean {
  if (isAvailable) return true;
  if (process.env['CI'] === 'true') throw new Error(`${what} is required (CI=true) but was not found`);
  t.skip(`${what} not found`);
  return false;
}

/** True when `command args…` runs and exits 0 (e.g. `psql --version`). */
export function commandWorks(command: string, args: readonly string[] = ['--version']): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}
