/** `rsproxy audit verify FILE…`: checks an audit log's hash chain across the files in the order given; exit 0 intact, 3 broken, 1 unreadable or usage. */
import { verifyAuditFiles, type VerifyResult } from '../audit/verify.js';
import type { ToolIo } from './operator-tool.js';

/** Exit code of a broken chain. */
export const brokenExitCode = 3;

/** The command's own usage (`rsproxy audit --help`). */
export const usage = `usage: rsproxy audit verify FILE…

Checks an audit log (audit.file): every line is a record whose seq is one more than the record
before it and whose prev is the SHA-256 of the line before it, across the files in the order given
(oldest first, e.g. audit.log.2 audit.log.1 audit.log). A first record with prev 64 zeros must have
seq 1; one with another prev starts the check mid-chain (the older files were not given).

Exit codes: 0 intact, 3 broken (the file, line and what is wrong are printed), 1 unreadable file or
usage error.
`;

const io: ToolIo = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s), env: process.env };

/** The one-line verdict. */
export function renderVerdict(result: VerifyResult): string {
  if (!result.ok) return `BROKEN: ${result.file}: line ${result.line}: ${result.what}\n`;
  const files = `${result.files} file${result.files === 1 ? '' : 's'}`;
  if (result.records === 0) return `intact: no records in ${files}\n`;
  const midway = result.firstSeq > 1 ? `; starts mid-chain at seq ${result.firstSeq} (the records before it are in files not given)` : '';
  return `intact: ${result.records} record${result.records === 1 ? '' : 's'}, seq ${result.firstSeq}..${result.lastSeq}, in ${files}${midway}\n`;
}

/** Runs `audit verify`; returns 0 intact, 3 broken, 1 unreadable or usage. */
export async function run(argv: string[], out: ToolIo = io): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    out.stdout(usage);
    return 0;
  }
  const [sub, ...rest] = argv;
  const files = rest[0] === '--' ? rest.slice(1) : rest;
  const flag = rest[0] === '--' ? undefined : files.find((f) => f.startsWith('-') && f !== '-');
  const problem = sub !== 'verify' ? (sub === undefined ? 'a subcommand is required' : `unknown subcommand "${sub.slice(0, 40)}"`) : files.length === 0 ? 'at least one FILE is required' : flag !== undefined ? `unknown option ${flag.slice(0, 40)}` : undefined;
  if (problem !== undefined) {
    out.stderr(`rsproxy audit: ${problem}\n\n${usage}`);
    return 1;
  }
  let result: VerifyResult;
  try {
    result = await verifyAuditFiles(files);
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    const path = (err as { path?: unknown } | null)?.path;
    out.stderr(`rsproxy audit: cannot read ${typeof path === 'string' ? path : 'a file'} (${typeof code === 'string' ? code : err instanceof Error ? err.message : 'error'})\n`);
    return 1;
  }
  out.stdout(renderVerdict(result));
  return result.ok ? 0 : brokenExitCode;
}
