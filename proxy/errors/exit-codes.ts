/** The process exit codes of every `rsproxy` command and the error classes that carry them; the CLI entry maps a thrown error to its code. */

/** Exit codes: 0 ok, 1 usage or config error, 2 runtime failure, 3 denied (explain) or broken (audit verify), 128 + signal. */
export const ExitCode = { Ok: 0, Usage: 1, Runtime: 2, Denied: 3, Sigint: 130, Sigterm: 143 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that ends the command with a specific exit code; its message is printed once, by the CLI entry. */
export class ExitError extends Error {
  override readonly name: string = 'ExitError';
  readonly code: string = 'EXIT';
  readonly exitCode: number;
  constructor(exitCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** A bad command line or input (unknown flag, missing or malformed value): exit 1, with a pointer to the command's --help. */
export class UsageError extends ExitError {
  override readonly name: string = 'UsageError';
  override readonly code: string = 'CLI_USAGE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(ExitCode.Usage, message, options);
  }
}

/** A failure while doing the work (cannot listen, no AWS credentials, AWS refused): exit 2. */
export class RuntimeError extends ExitError {
  override readonly name: string = 'RuntimeError';
  override readonly code: string = 'RUNTIME_FAILURE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(ExitCode.Runtime, message, options);
  }
}

/** A negative verdict the command exists to give (explain: denied; audit verify: broken): exit 3. */
export class DeniedError extends ExitError {
  override readonly name: string = 'DeniedError';
  override readonly code: string = 'DENIED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(ExitCode.Denied, message, options);
  }
}

/** The exit code for a thrown value: an ExitError's own code, anything else is an unexpected runtime failure (2). */
export function exitCodeOf(err: unknown): number {
  return err instanceof ExitError ? err.exitCode : ExitCode.Runtime;
}
