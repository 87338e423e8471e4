/** `rsproxy demo`: the whole IAM → Redshift flow on one machine, with no AWS account. */
import { ExitCode } from '../errors/exit-codes.js';
import { specOf } from './command-specs.js';
import { numberValue, parseCommand, stringValue } from './options.js';
import { startDemoStack } from './demo-stack.js';
import type { DemoStack } from './demo-stack.js';
import { sampleFirstQuery } from '../../emulator/sample-data.js';

/** The ready-to-paste lines: psql, JDBC, ODBC, metrics, a first query on the sample data, how to mint a fresh token, and a tunnel. */
export function demoLines(stack: DemoStack, token: string): string[] {
  const { port } = stack.proxy.proxyAddress;
  const admin = stack.proxy.adminAddress;
  const c = stack.userCredentials;
  const keys = `AWS_ACCESS_KEY_ID=${c.accessKeyId} AWS_SECRET_ACCESS_KEY=${c.secretAccessKey} AWS_SESSION_TOKEN=${c.sessionToken}`;
  // The token alphabet [A-Za-z0-9._-] needs no quoting or escaping in any of these forms (docs/design/token.md §13).
  return [
    'rsproxy demo is running: AWS emulator + upstream database + proxy. Ctrl-C stops everything.',
    '',
    `psql:    PGPASSWORD=${token} psql "host=localhost port=${port} dbname=${stack.database} user=${stack.dbUser} sslmode=verify-full sslrootcert=${stack.caFile}"`,
    `jdbc:    jdbc:postgresql://localhost:${port}/${stack.database}?user=${stack.dbUser}&password=${token}&sslmode=verify-full&sslrootcert=${encodeURIComponent(stack.caFile)}`,
    `odbc:    Driver={PostgreSQL Unicode};Server=localhost;Port=${port};Database=${stack.database};Uid=${stack.dbUser};Pwd=${token};SSLmode=verify-full;pqopt={sslrootcert=${stack.caFile}}`,
    `metrics: http://${admin.host}:${admin.port}/metrics`,
    '',
    'Sample data (TICKIT-like, schema tickit: users, venue, category, date, event, listing, sales). A first query, the top 5 events by tickets sold:',
    `query:   ${sampleFirstQuery};`,
    '',
    `The token is valid for 15 minutes. A fresh one, with the demo identity's emulator-only keys:`,
    `token:   ${keys} npx rsproxy token --audience ${stack.audience} --region ${stack.region}`,
    '',
    'GUI tools with no password: a tunnel that logs every local connection in with a fresh token (it prints its own psql/JDBC/ODBC lines):',
    `tunnel:  ${keys} npx rsproxy tunnel --host localhost --port ${port} --sslrootcert ${stack.caFile} --audience ${stack.audience} --region ${stack.region} --user ${stack.dbUser} --dbname ${stack.database} --listen 127.0.0.1:0`,
  ];
}

/** Runs the demo until SIGINT/SIGTERM; exit 0. */
export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(specOf('demo'), argv);
  const upstreamUrl = stringValue(args, 'upstream');
  process.stderr.write('rsproxy demo: starting (the first run initialises the embedded database, about 20 s)…\n');
  const stack = await startDemoStack({
    host: stringValue(args, 'host') ?? '127.0.0.1',
    port: numberValue(args, 'port') ?? 5439,
    adminPort: numberValue(args, 'admin-port') ?? 9187,
    ...(upstreamUrl === undefined ? {} : { upstreamUrl }),
  });
  const token = await stack.mintToken();
  process.stdout.write(`${demoLines(stack, token).join('\n')}\n`);
  if (upstreamUrl === undefined) {
    process.stdout.write('\nNote: the embedded PGlite upstream checks no password; --upstream postgres://… shows real password checks.\n');
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await stack.close();
  return ExitCode.Ok;
}
