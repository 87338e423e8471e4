/** `rsproxy policy --config FILE --account ID [--resolve] [--role ARN]`: the least-privilege IAM policy JSON on stdout (docs/design/surface.md §10). */
import { isAccountId } from '../../auth/aws-names.js';
import { buildIamPolicy, createWorkgroupIdLookup, formatPolicy, usableRuleDatabases, workgroupKey } from '../../auth/index.js';
import { silentLogger } from '../../auth/types.js';
import { ExitCode, UsageError } from '../errors/exit-codes.js';
import { specOf } from './command-specs.js';
import { isSet, parseCommand, stringValue } from './options.js';
import { loadToolConfig, processToolIo, type ToolIo } from './operator-tool.js';
import type { RsproxyConfig } from '../config/config.js';

/** Looks up workgroup ids (injected by tests; default: GetWorkgroup through the SDK). */
export type WorkgroupIdResolver = (config: RsproxyConfig, io: ToolIo) => Promise<Record<string, string>>;

const resolveWithAws: WorkgroupIdResolver = async (config, io) => {
  const endpoint = io.env['AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS'] ?? io.env['AWS_ENDPOINT_URL'];
  const lookup = createWorkgroupIdLookup({ logger: silentLogger, ...(endpoint === undefined || endpoint === '' ? {} : { endpoint }) });
  try {
    const ids: Record<string, string> = {};
    for (const { db } of usableRuleDatabases(config)) {
      if (db.workgroup === undefined || Object.hasOwn(ids, workgroupKey(db))) continue;
      ids[workgroupKey(db)] = await lookup.workgroupId(db.region, db.workgroup, { deadlineMs: Date.now() + 15_000 });
    }
    return ids;
  } finally {
    lookup.destroy();
  }
};

/** Prints the policy; warnings and notes on stderr. 0 ok, 1 usage/config, 2 a failed --resolve lookup. */
export async function run(argv: string[], io: ToolIo = processToolIo, resolve: WorkgroupIdResolver = resolveWithAws): Promise<number> {
  const args = parseCommand(specOf('policy'), argv);
  const path = stringValue(args, 'config') ?? '';
  const account = stringValue(args, 'account') ?? '';
  if (!isAccountId(account)) throw new UsageError('--account must be 12 digits');
  const role = stringValue(args, 'role');
  const config = loadToolConfig(path, io);
  if (config === undefined) return ExitCode.Usage;
  if (role !== undefined && !config.rules.some((r) => r.assumeRole === role)) {
    io.stderr(`rsproxy policy: --role ${role} is not the assumeRole of any rule\n`);
    return ExitCode.Usage;
  }
  const workgroupIds = isSet(args, 'resolve') ? await resolve(config, io) : {};
  const result = buildIamPolicy({ config, account, workgroupIds, ...(role === undefined ? {} : { role }) });
  for (const w of result.warnings) io.stderr(`warning: ${w}\n`);
  for (const r of result.roles) {
    io.stderr(`note: logins under rules with assumeRole ${r} get credentials as that role: its policy is \`rsproxy policy --role ${r}\`, and its trust policy must let this proxy sts:AssumeRole (and sts:TagSession)\n`);
  }
  if (result.document.Statement.length === 0) io.stderr('warning: no rule can admit a login, so the policy allows nothing (IAM rejects an empty Statement list)\n');
  io.stdout(formatPolicy(result.document));
  return ExitCode.Ok;
}
