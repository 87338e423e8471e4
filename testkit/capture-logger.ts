/** A Logger that records every line in memory, for unit tests that assert on log events. */
import type { Logger } from '../auth/types.js';

/** One recorded log line. */
export interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** A Logger (its children included) that appends to `lines`. */
export function captureLogger(lines: LogLine[]): Logger {
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}
