/** `rsproxy audit verify FILE…`: checks an audit log's hash chain across the files in the order given; exit 0 intact, 3 broken, 1 unreadable or usage. */
import { verifyAuditFiles, type VerifyResult } from '../audit/verify.js';
import { ExitCode, UsageError } from '../errors/exit-codes.js';
import { specOf } from './command-specs.js';
import { parseCommand } from './options.js';
import type { ToolIo } from './operator-tool.js';

const io: ToolIo = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s), env: process.env };

/** The one-line verdict. */
export function renderVerdict(result: VerifyResult): string {
  if (!result.ok) return `BROKEN: ${result.file}: line ${result.line}: ${result.what}\n`;
  const files = `${result.files} file${result.files === 1 ? '' : 's'}`;
  if (result.records === 0) return `intact: no records in ${files}\n`;
  const midway = result.firstSeq > 1 ? `; starts mid-chain at seq ${result.firstSeq} (the records before it are in files not given)` : '';
  return `intact: ${result.records} record${result.records === 1 ? '' : 's'}, seq ${result.firstSeq}..${result.lastSeq}, in ${files}${midway}\n`;
}

/** Runs `audit verify`; returns 0 intact, 3 broken, 1 unreadable (usage errors are thrown: exit 1). */
export async function run(argv: string[], out: ToolIo = io): Promise<number> {
  const spec = specOf('audit');
  const [sub, ...files] = parseCommand(spec, argv).positionals;
  if (sub !== 'verify') throw new UsageError(`unknown subcommand "${(sub ?? '').slice(0, 40)}"; the one subcommand is verify (see \`rsproxy audit --help\`)`);
  let result: VerifyResult;
  try {
    result = await verifyAuditFiles(files);
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    const path = (err as { path?: unknown } | null)?.path;
    out.stderr(`rsproxy audit: cannot read ${typeof path === 'string' ? path : 'a file'} (${typeof code === 'string' ? code : err instanceof Error ? err.message : 'error'})\n`);
    return ExitCode.Usage;
  }
  out.stdout(renderVerdict(result));
  return result.ok ? ExitCode.Ok : ExitCode.Denied;
}
