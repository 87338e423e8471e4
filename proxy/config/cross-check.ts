/** Cross-field checks on a schema-valid config: what one key cannot say alone (partitions, rule templates, workgroup rules, the drop list, cluster limits). */
import { validateDbGroup, validateDbName, validateDbUser } from '../../auth/redshift-names.js';
import { parseCidr } from '../protocol/ip-address.js';
import { listenPattern, type ParsedConfig } from './schema.js';
import { startupParameterClass, type StartupParameterClass } from '../protocol/startup-parameter-class.js';

/** A config value as an error message quotes it (cut at 80 characters). */
export const show = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

const regionPartition = (region: string): string =>
  region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : /^(us-iso|eu-isoe|us-isof)/.test(region) ? 'other' : 'aws';
/** Longest value of the RedshiftDbRoles session tag that carries a workgroup rule's dbGroups (docs/design/aws.md §5). */
const maxDbRolesTagChars = 256;
const templateVars = new Set(['sessionName', 'roleName', 'userName', 'accountId']);

/** Cross-field checks of docs/design/architecture.md §6 on a schema-valid config (errors and warnings, one line each). */
export function crossCheck(c: ParsedConfig): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  c.identity.stsRegions.forEach((r, i) => {
    if (regionPartition(r) !== c.identity.partition) errors.push(`identity.stsRegions[${i}]: region ${show(r)} is not in partition ${c.identity.partition}`);
  });
  if (c.credentials.refreshBeforeSeconds >= c.credentials.durationSeconds) {
    errors.push(`credentials.refreshBeforeSeconds: must be less than credentials.durationSeconds (${c.credentials.durationSeconds}) (got ${c.credentials.refreshBeforeSeconds})`);
  }
  if (c.listen === c.admin.listen && !c.listen.endsWith(':0')) errors.push(`admin.listen: must differ from listen (got ${show(c.admin.listen)})`);
  // The schema's pattern only shapes the text; a trusted CIDR must also be an exact network.
  c.proxyProtocol.trustedSources.forEach((text, i) => {
    const r = parseCidr(text);
    if ('problem' in r) errors.push(`proxyProtocol.trustedSources[${i}]: ${r.problem} (got ${show(text)})`);
  });
  const dbKeys = Object.keys(c.databases);
  for (const [key, db] of Object.entries(c.databases)) {
    const at = `databases.${key}`;
    if ((db.cluster === undefined) === (db.workgroup === undefined)) errors.push(`${at}: must set exactly one of cluster or workgroup`);
    if (db.host !== undefined && db.cluster === undefined) errors.push(`${at}.host: needs cluster (the API call names the cluster)`);
    if (db.host !== undefined && db.port === undefined) errors.push(`${at}.port: required with host (1..65535)`);
    if (db.port !== undefined && db.host === undefined) errors.push(`${at}.port: needs host`);
    if (regionPartition(db.region) !== c.identity.partition) errors.push(`${at}.region: region ${show(db.region)} is not in partition ${c.identity.partition}`);
    if (db.upstreamTls.mode === 'require') {
      warnings.push(`${at}.upstreamTls.mode: require encrypts without verifying the upstream's certificate (tests only); use verify-full in production`);
    }
    const dbNameProblem = validateDbName(db.dbName ?? key);
    if (dbNameProblem !== undefined) errors.push(`${db.dbName === undefined ? `${at}` : `${at}.dbName`}: database name ${show(db.dbName ?? key)} ${dbNameProblem}`);
  }
  c.rules.forEach((rule, i) => {
    const at = `rules[${i}]`;
    const dbs = rule.databases.includes('*') ? dbKeys : rule.databases;
    rule.databases.forEach((d, j) => {
      if (d !== '*' && !dbKeys.includes(d)) errors.push(`${at}.databases[${j}]: ${show(d)} is not a key of databases (${dbKeys.join(', ')})`);
    });
    // A database with both or neither is reported once above, not again per rule.
    const workgroups = dbs.filter((d) => c.databases[d]?.workgroup !== undefined && c.databases[d]?.cluster === undefined);
    const clusters = dbs.filter((d) => c.databases[d]?.cluster !== undefined && c.databases[d]?.workgroup === undefined);
    const vars = [...(rule.dbUser ?? '').matchAll(/\{([^}]*)\}/g)].map((m) => m[1] ?? '');
    for (const v of vars) if (!templateVars.has(v)) errors.push(`${at}.dbUser: unknown template {${v}}; allowed: {sessionName} {roleName} {userName} {accountId}`);
    if (vars.includes('sessionName') && !rule.trustSessionName) errors.push(`${at}.dbUser: {sessionName} needs trustSessionName: true`);
    if (rule.dbUser !== undefined && vars.length === 0 && !/[{}]/.test(rule.dbUser)) {
      const p = validateDbUser(rule.dbUser);
      if (p !== undefined) errors.push(`${at}.dbUser: ${show(rule.dbUser)} ${p}`);
    } else if (rule.dbUser !== undefined && vars.length === 0) {
      errors.push(`${at}.dbUser: unbalanced braces in ${show(rule.dbUser)}`);
    }
    if (rule.dbUser === undefined && clusters.length > 0) errors.push(`${at}.dbUser: required when the rule allows a cluster database (${clusters.join(', ')})`);
    rule.dbGroups.forEach((g, j) => {
      const p = validateDbGroup(g);
      if (p !== undefined) errors.push(`${at}.dbGroups[${j}]: ${show(g)} ${p}`);
    });
    if (workgroups.length > 0) {
      const wg = workgroups.join(', ');
      if (rule.autoCreate) errors.push(`${at}.autoCreate: not allowed on a workgroup database (${wg})`);
      if (rule.dbGroups.length > 0 && rule.assumeRole === undefined) errors.push(`${at}.dbGroups: need assumeRole on a workgroup database (${wg})`);
      if (vars.length > 0) errors.push(`${at}.dbUser: must be a literal on a workgroup database (${wg})`);
      const joinedGroups = rule.dbGroups.join(':');
      if (rule.assumeRole !== undefined && joinedGroups.length > maxDbRolesTagChars) {
        errors.push(`${at}.dbGroups: joined with ':' they are ${joinedGroups.length} characters; the RedshiftDbRoles session tag allows at most ${maxDbRolesTagChars} (workgroup ${wg})`);
      }
      if (rule.assumeRole === undefined) {
        warnings.push(`${at}: workgroup database (${wg}) without assumeRole: every client of this rule shares the proxy's own database user`);
      }
    }
  });
  c.startupParameters.drop.forEach((name, i) => {
    const kind = startupParameterClass(name);
    if (kind !== 'forwarded' && kind !== 'redshiftOnly') errors.push(`startupParameters.drop[${i}]: ${show(name)} is never forwarded anyway (${neverForwardedWhy[kind]})`);
  });
  checkCluster(c, errors);
  const reuseAnywhere = c.reuse.enabled || Object.values(c.databases).some((d) => d.reuse === true);
  if (reuseAnywhere && c.audit.file !== '' && c.audit.statements !== 'off') {
    warnings.push(`reuse: not used while audit.statements is ${c.audit.statements}: every login is a fresh upstream login`);
  }
  return { errors, warnings };
}

const neverForwardedWhy: Record<Exclude<StartupParameterClass, 'forwarded' | 'redshiftOnly'>, string> = {
  setByProxy: 'the proxy sets user and database itself',
  replication: 'replication connections are refused',
  negotiated: '_pq_ protocol options are negotiated, never forwarded',
  driverOnly: 'IdP keys are for the driver only',
};

/** Most live sessions per replica with `cluster` set: half the 16-bit session numbers of a cluster cancel key. */
export const maxClusterClientConnections = 32_768;

function checkCluster(c: ParsedConfig, errors: string[]): void {
  const { self, peers, peerDns } = c.cluster;
  if (peers.length === 0 && peerDns === '') return;
  if (self === '') errors.push('cluster.self: required with cluster.peers or cluster.peerDns (host:port at which peers reach this replica; defaults to $POD_IP and the listen port, but POD_IP is not set)');
  else if (!listenPattern.test(self) || self.endsWith(':0')) errors.push(`cluster.self: must be host:port with a port from 1 to 65535 (got ${show(self)})`);
  if (c.limits.maxClientConnections > maxClusterClientConnections) {
    errors.push(`limits.maxClientConnections: at most ${maxClusterClientConnections} with cluster (a cancel key holds 16 bits of session number per replica) (got ${c.limits.maxClientConnections})`);
  }
}

