/** Shared by the operators' tools (`explain`, `policy`): captured output streams and the config load (exit 1 on a bad file). */
import { loadConfigFile, type RsproxyConfig } from '../config/config.js';

/** Where an operator tool writes; tests capture these. */
export interface ToolIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: Readonly<Record<string, string | undefined>>;
}

/** The process's own streams and environment. */
export const processToolIo: ToolIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
};

/** Loads and validates the config as `serve` would (file + RSPROXY_* env); undefined after printing its problems. */
export function loadToolConfig(path: string, io: ToolIo): RsproxyConfig | undefined {
  const result = loadConfigFile(path, { env: io.env });
  if (!result.ok) {
    for (const e of result.errors) io.stderr(`${e}\n`);
    io.stderr(`${path}: ${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}\n`);
    return undefined;
  }
  return result.config;
}
