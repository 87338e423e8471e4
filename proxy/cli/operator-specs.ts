/** Option tables of the operators' commands (`serve`, `check-config`, `explain`, `policy`, `demo`, `version`); config flags derive from the schema. */
import { scalarKeys, type ScalarKey } from '../config/config.js';
import { dbnameOption } from './client-specs.js';
import type { CommandSpec, OptionDef, ParsedArgs } from './options.js';

/** Help section of the flags derived from config keys. */
export const configFlagSection = 'Config keys (flag > RSPROXY_* env > file > default)';

const valueNameOf: Readonly<Record<ScalarKey['kind'], string>> = { string: 'VALUE', number: 'N', boolean: 'true|false', list: 'A,B' };

/** One `--<key-path>` option per scalar config key (`limits.loginTimeoutMs` → `--limits-login-timeout-ms`); the config loader validates the values. */
export function configFlagOptions(): OptionDef[] {
  return scalarKeys.map((k) => ({
    name: k.flag,
    // The config loader coerces and validates, naming the flag as the source of a bad value.
    type: 'string',
    valueName: valueNameOf[k.kind],
    env: k.env,
    description: `${k.path.join('.')}: ${k.description ?? ''}`.trim(),
    section: configFlagSection,
  }));
}

const config: OptionDef = { name: 'config', short: 'c', type: 'string', valueName: 'FILE', required: true, description: 'The config file (YAML or JSON).' };
const account: OptionDef = { name: 'account', type: 'string', valueName: 'ID', description: 'AWS account id (12 digits).' };

const serveSpec: CommandSpec = {
  name: 'serve',
  summary: 'run the proxy',
  description: ['Runs the proxy until SIGTERM or SIGINT; SIGHUP reloads the config and certificates.'],
  options: [config, { name: 'exit-zero-on-sigterm', type: 'boolean', description: 'Exit 0 instead of 143 on SIGTERM.' }, ...configFlagOptions()],
  exitCodes: '0 ok, 1 config error, 2 runtime failure (cannot listen, AWS setup), 130 SIGINT, 143 SIGTERM (0 with --exit-zero-on-sigterm).',
};

const checkConfigSpec: CommandSpec = {
  name: 'check-config',
  summary: 'validate a config: one line per problem',
  description: ['Validates the config as serve would; warnings alone go to stderr and exit 0.'],
  options: [config, { name: 'print', type: 'boolean', description: 'Print the effective config, secrets redacted.' }, ...configFlagOptions()],
  exitCodes: '0 valid (warnings allowed), 1 invalid or usage error.',
};

const explainSpec: CommandSpec = {
  name: 'explain',
  summary: 'which rule admits an identity to a database, or why none does',
  description: ['Evaluates the rules of the config for one identity and database and lists the AWS calls a login would make; no AWS call.'],
  options: [
    config,
    { name: 'arn', type: 'string', valueName: 'ARN', required: true, description: 'The IAM identity (role, assumed-role session or user ARN).' },
    dbnameOption('The database the client asks for (a key of `databases`).', true),
    { name: 'user', type: 'string', valueName: 'U', description: 'The database user the client asks for.' },
    { ...account, description: 'AWS account id of the identity when the ARN does not say (12 digits).' },
    { name: 'json', type: 'boolean', description: 'Print the explanation as one JSON object.' },
  ],
  exitCodes: '0 admitted, 3 denied, 1 usage, config, ARN or database error.',
};

const policySpec: CommandSpec = {
  name: 'policy',
  summary: "print the least-privilege IAM policy for the proxy's role",
  description: ['Prints the IAM policy (JSON) the proxy\'s role needs for this config; warnings and notes go to stderr.'],
  options: [
    config,
    { ...account, required: true, description: 'AWS account id of the clusters and workgroups (12 digits).' },
    { name: 'resolve', type: 'boolean', description: 'Look up workgroup ids with GetWorkgroup (needs AWS credentials).' },
    { name: 'role', type: 'string', valueName: 'ARN', description: 'The policy of one assumeRole role instead of the proxy\'s.' },
  ],
  exitCodes: '0 ok, 1 usage or config error, 2 a failed --resolve lookup.',
};

const demoSpec: CommandSpec = {
  name: 'demo',
  summary: 'run everything locally with no AWS account',
  description: ['Starts an AWS emulator, an upstream database and the proxy, prints ready-to-paste psql, JDBC and ODBC lines, and runs until Ctrl-C.'],
  options: [
    { name: 'host', type: 'string', valueName: 'H', default: '127.0.0.1', description: 'Address the proxy listens on.' },
    { name: 'port', type: 'number', valueName: 'P', default: 5439, min: 0, max: 65535, description: 'Port of the proxy (0 picks one).' },
    { name: 'admin-port', type: 'number', valueName: 'P', default: 9187, min: 0, max: 65535, description: 'Port of /metrics and the health endpoints (0 picks one).' },
    { name: 'upstream', type: 'string', valueName: 'URL', description: 'postgres://… of a real PostgreSQL (a role that may create roles) instead of the embedded one.' },
  ],
  exitCodes: '0 on Ctrl-C, 1 usage error, 2 runtime failure.',
};

const versionSpec: CommandSpec = {
  name: 'version',
  summary: 'print the version, the Node version and the commit',
  options: [],
  environment: [['RSPROXY_COMMIT', 'the commit to print (set by the container image build)']],
  exitCodes: '0 ok, 1 usage error.',
};

/** The operators' commands, in help order. */
export const operatorSpecs: readonly CommandSpec[] = [serveSpec, demoSpec, checkConfigSpec, explainSpec, policySpec];

/** `version`, listed last. */
export const versionCommandSpec = versionSpec;

/** `rsproxy audit verify FILE…`. */
export const auditCommandSpec: CommandSpec = {
  name: 'audit',
  summary: "check an audit log's hash chain (exit 0 intact, 3 broken)",
  synopsis: 'verify FILE…',
  description: [
    'Checks an audit log (audit.file): every line is a record whose seq is one more than the record before it and whose prev is the SHA-256 of the line before it, across the files in the order given (oldest first, e.g. audit.log.1 audit.log).',
    'A first record with prev 64 zeros must have seq 1; one with another prev starts the check mid-chain (the older files were not given).',
  ],
  options: [],
  positionals: { name: 'verify FILE…', description: 'The subcommand `verify`, then the audit files, oldest first.', min: 2 },
  exitCodes: '0 intact, 3 broken (the file, line and what is wrong are printed), 1 unreadable file or usage error.',
};

/** The config flag values out of parsed args, keyed by flag name, for the config loader. */
export function configFlagValues(args: ParsedArgs): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of scalarKeys) {
    const v = args.values[k.flag];
    if (typeof v === 'string') out[k.flag] = v;
  }
  return out;
}
