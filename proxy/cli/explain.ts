/** `rsproxy explain --config FILE --arn ARN --dbname D [--user U] [--account ID] [--json]`: exit 0 admitted, 3 denied, 1 bad input (docs/design/surface.md §10). */
import { isAccountId } from '../../auth/aws-names.js';
import { ExplainInputError, explainLogin, type Explanation, type LoginCall } from '../../auth/index.js';
import { ExitCode, UsageError } from '../errors/exit-codes.js';
import { specOf } from './command-specs.js';
import { isSet, parseCommand, stringValue } from './options.js';
import { loadToolConfig, processToolIo, type ToolIo } from './operator-tool.js';

/** Exit code of a denied identity (docs/design/surface.md §2). */
export const deniedExitCode = ExitCode.Denied;

const callerText = (c: LoginCall['caller']): string => (c === 'proxy' ? 'as the proxy' : `as ${c.role}`);

/** The explanation as operator-readable lines. */
export function renderExplanation(e: Explanation): string {
  const who = `${e.identity.arn}${e.identity.canonicalArn === e.identity.arn ? '' : ` (canonical ${e.identity.canonicalArn})`}`;
  const asUser = e.user === null ? '' : ` as user ${JSON.stringify(e.user)}`;
  const lines = [`${e.admitted ? 'ADMITTED' : 'DENIED'}: ${who} → database ${JSON.stringify(e.database)}${asUser}`];
  if (e.identityDenied !== undefined) lines.push(`  identity: ${e.identityDenied}`);
  if (e.rule !== undefined) {
    const t = e.target;
    lines.push(`  rule:        #${e.rule.index} ${e.rule.principal}`);
    lines.push(`  dbUser:      ${e.dbUser ?? '(the caller-derived user of GetCredentials)'}`);
    lines.push(`  dbGroups:    ${e.dbGroups?.length ? e.dbGroups.join(', ') : '-'}`);
    lines.push(`  autoCreate:  ${String(e.autoCreate)}`);
    lines.push(`  assumeRole:  ${e.assumeRole ?? '-'}${e.roleSessionName === undefined ? '' : ` (RoleSessionName ${e.roleSessionName})`}`);
    if (t !== undefined) {
      const where = t.host === undefined ? (t.kind === 'cluster' ? 'endpoint from DescribeClusters' : 'endpoint from GetWorkgroup') : `fixed endpoint ${t.host}:${t.port ?? ''}`;
      lines.push(`  target:      ${t.kind} ${t.cluster ?? t.workgroup ?? ''} in ${t.region}, dbName ${t.dbName} (${where})`);
    }
    if (e.loginDenied !== undefined) lines.push(`  but the login fails: ${e.loginDenied}`);
    if (e.awsCalls !== undefined) {
      lines.push('  AWS calls a login makes:');
      for (const call of e.awsCalls) {
        lines.push(`    ${call.api} ${callerText(call.caller)}`);
        for (const p of call.permissions) lines.push(`      ${p.action} on ${p.resource}`);
      }
    }
  }
  if (e.rules.length > 0) lines.push('  rules:');
  for (const r of e.rules) {
    const verdict = r.matched ? (e.rule?.index === r.index ? 'matches (first match wins)' : 'matches (not reached)') : `${r.failed ?? ''}: ${r.reason ?? ''}`;
    lines.push(`    #${r.index} ${r.principal}: ${verdict}`);
  }
  if (e.rules.length === 0 && e.identityDenied === undefined) lines.push('  rules: none configured');
  for (const n of e.notes) lines.push(`  note: ${n}`);
  return `${lines.join('\n')}\n`;
}

/** Runs explain; returns 0 admitted, 3 denied, 1 usage, config, ARN or database error. */
export async function run(argv: string[], io: ToolIo = processToolIo): Promise<number> {
  const args = parseCommand(specOf('explain'), argv);
  const path = stringValue(args, 'config') ?? '';
  const arn = stringValue(args, 'arn') ?? '';
  const database = stringValue(args, 'dbname') ?? '';
  const user = typeof args.values['user'] === 'string' ? args.values['user'] : undefined;
  const account = stringValue(args, 'account');
  if (account !== undefined && !isAccountId(account)) throw new UsageError('--account must be 12 digits');
  const config = loadToolConfig(path, io);
  if (config === undefined) return ExitCode.Usage;
  let explanation: Explanation;
  try {
    explanation = explainLogin(config, { arn, database, ...(user === undefined ? {} : { user }), ...(account === undefined ? {} : { account }) });
  } catch (err) {
    if (!(err instanceof ExplainInputError)) throw err;
    io.stderr(`rsproxy explain: ${err.message}\n`);
    return ExitCode.Usage;
  }
  const { rules, notes, ...head } = explanation;
  io.stdout(isSet(args, 'json') ? `${JSON.stringify({ ...head, rules, notes })}\n` : renderExplanation(explanation));
  return explanation.admitted ? ExitCode.Ok : deniedExitCode;
}
