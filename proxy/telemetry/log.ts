/** JSON-lines logging on pino: the Logger of auth/types.ts, connection-id children, redaction as a second line of defence. */
import { pino, stdTimeFunctions, type DestinationStream } from 'pino';
import type { Logger } from '../../auth/types.js';

/** Log levels the config accepts (`log.level`). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Where log lines go: anything with `write(line)`; stdout by default. */
export type LogDestination = DestinationStream;

/** Options of createLogger. */
export interface LoggerOptions {
  level?: LogLevel;
  /** Defaults to process.stdout (synchronously, so lines survive a crash exit). */
  destination?: LogDestination;
  /** Extra fields on every line. */
  base?: Record<string, unknown>;
}

/** A Logger whose level can change at runtime (SIGHUP reload). */
export interface RootLogger extends Logger {
  setLevel(level: LogLevel): void;
}

/**
 * Field paths pino censors. The session never puts secrets in records (structural redaction);
 * this only catches a mistake.
 */
export const redactPaths: readonly string[] = [
  'password',
  'token',
  'signature',
  'sessionToken',
  'secretAccessKey',
  'dbPassword',
  '*.password',
  '*.token',
  '*.signature',
  '*.sessionToken',
  '*.secretAccessKey',
  '*.dbPassword',
];

/** Creates the process logger: one JSON object per line, `level` as a label, ISO `time`. */
export function createLogger(opts: LoggerOptions = {}): RootLogger {
  const destination = opts.destination ?? pino.destination({ dest: 1, sync: true });
  const p = pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'rsproxy', ...opts.base },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...redactPaths], censor: '[REDACTED]' },
    },
    destination,
  );
  const wrap = (l: pino.Logger): Logger => ({
    debug: (obj, msg) => l.debug(obj, msg),
    info: (obj, msg) => l.info(obj, msg),
    warn: (obj, msg) => l.warn(obj, msg),
    error: (obj, msg) => l.error(obj, msg),
    child: (bindings) => wrap(l.child(bindings)),
  });
  return {
    ...wrap(p),
    setLevel(level: LogLevel) {
      p.level = level;
    },
  };
}

/** The child logger for one client connection: every line carries `connectionId`. */
export function connectionLogger(logger: Logger, connectionId: string): Logger {
  return logger.child({ connectionId });
}
