/** Enforces the rooms of proxy/ and the one-way arrows between them (docs/design/architecture.md) on every source file's import specifiers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/architecture.test.js → project root is two levels up.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const sourceDirs = ['proxy', 'auth', 'emulator', 'test', 'bench', 'testkit'];

interface Edge {
  file: string; // project-relative, posix
  spec: string; // as written
  target: string; // project-relative file for relative specs, else the bare specifier
  isTypeOnly: boolean; // `import type …`: erased at build time
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listTs(full));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

const importPattern =
  /(?:^|[\s;])(?:import|export)\s+(type\s+)?(?:[\w*{}\s,$]+\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** Every static and dynamic import of a file. */
export function importsOf(file: string, source: string): Edge[] {
  const rel = relative(root, file).split(sep).join('/');
  const edges: Edge[] = [];
  for (const m of source.matchAll(importPattern)) {
    const spec = m[2] ?? m[3];
    if (spec === undefined) continue;
    let target = spec;
    if (spec.startsWith('.')) {
      target = relative(root, resolve(dirname(file), spec)).split(sep).join('/').replace(/\.js$/, '.ts');
    }
    edges.push({ file: rel, spec, target, isTypeOnly: m[1] !== undefined });
  }
  return edges;
}

const allEdges: Edge[] = sourceDirs.flatMap((d) =>
  listTs(join(root, d)).flatMap((f) => importsOf(f, readFileSync(f, 'utf8'))),
);

const isTest = (f: string) => f.endsWith('.test.ts');
const violations = (pred: (e: Edge) => boolean) =>
  allEdges.filter(pred).map((e) => `${e.file} imports ${e.spec}`);

test('the scan finds the source tree', () => {
  assert.ok(allEdges.some((e) => e.file.startsWith('proxy/')), 'no proxy/ imports found');
  assert.ok(allEdges.some((e) => e.file.startsWith('auth/')), 'no auth/ imports found');
});

test('the import scanner sees static, type-only, re-export and dynamic imports', () => {
  const src = [
    "import a from './a.js';",
    "import type { B } from '../b.js';",
    "export { c } from './c.js';",
    "const d = await import('node:net');",
    "import './side-effect.js';",
  ].join('\n');
  const specs = importsOf(join(root, 'proxy', 'x.ts'), src).map((e) => e.spec).sort();
  assert.deepEqual(specs, ['../b.js', './a.js', './c.js', './side-effect.js', 'node:net']);
});

/** The rooms of proxy/ and, for each, the rooms its product files may import (tests may import anything). */
export const roomArrows: Readonly<Record<string, readonly string[]>> = {
  'proxy/protocol': [],
  'proxy/errors': ['auth'],
  'proxy/telemetry': ['auth'],
  'proxy/config': ['auth', 'proxy/protocol'],
  'proxy/audit': ['auth', 'proxy/telemetry'],
  'proxy/upstream': ['auth', 'proxy/protocol', 'proxy/errors', 'proxy/telemetry', 'proxy/config'],
  'proxy/session': ['auth', 'proxy/upstream', 'proxy/protocol', 'proxy/errors', 'proxy/telemetry', 'proxy/config', 'proxy/audit'],
  'proxy/fleet': ['auth', 'proxy/session', 'proxy/upstream', 'proxy/protocol', 'proxy/telemetry', 'proxy/config'],
  'proxy/server': ['auth', 'proxy/session', 'proxy/upstream', 'proxy/protocol', 'proxy/errors', 'proxy/telemetry', 'proxy/config'],
  'proxy/admin': ['auth', 'proxy/session', 'proxy/telemetry', 'proxy/config'],
  'proxy/tunnel': ['auth', 'proxy/session', 'proxy/upstream', 'proxy/protocol', 'proxy/errors', 'proxy/telemetry', 'proxy/config'],
  'proxy/cli': ['auth', 'emulator', 'proxy/server', 'proxy/tunnel', 'proxy/admin', 'proxy/fleet', 'proxy/session', 'proxy/upstream', 'proxy/protocol', 'proxy/errors', 'proxy/telemetry', 'proxy/config', 'proxy/audit'],
};

/** The room a project file lives in: its proxy/ folder, or its top-level folder. */
export function roomOf(file: string): string {
  const parts = file.split('/');
  return parts[0] === 'proxy' && parts.length > 2 ? `proxy/${parts[1]}` : parts[0]!;
}

/** The edges among `edges` that leave a proxy/ room for a room it may not import. */
export function roomViolations(edges: readonly Edge[]): string[] {
  return edges
    .filter((e) => e.file.startsWith('proxy/') && !isTest(e.file) && e.spec.startsWith('.'))
    .filter((e) => {
      const from = roomOf(e.file);
      const to = roomOf(e.target);
      if (from === to) return false;
      const allowed = roomArrows[from];
      return allowed === undefined || !allowed.includes(to);
    })
    .map((e) => `${e.file} imports ${e.spec}`);
}

test('every file under proxy/ lives in a declared room, and every room has a README', () => {
  const loose = listTs(join(root, 'proxy')).map((f) => relative(root, f).split(sep).join('/')).filter((f) => roomArrows[roomOf(f)] === undefined);
  assert.deepEqual(loose, []);
  for (const room of Object.keys(roomArrows)) {
    if (listTs(join(root, room)).length === 0) continue;
    assert.ok(existsSync(join(root, room, 'README.md')), `${room}/README.md says what lives there and what it may import`);
  }
});

test('arrows between rooms run one way: cli → (server, tunnel, admin) → session → (upstream, protocol); auth, config, telemetry and errors are leaves', () => {
  assert.deepEqual(roomViolations(allEdges), []);
});

test('the room rule fails on a planted violation', () => {
  const planted = [
    ...importsOf(join(root, 'proxy', 'session', 'planted.ts'), "import { startTunnel } from '../tunnel/run-tunnel.js';"),
    ...importsOf(join(root, 'proxy', 'session', 'planted.ts'), "import { PeerSet } from '../fleet/peer-set.js';"),
    ...importsOf(join(root, 'proxy', 'protocol', 'planted.ts'), "import { Relay } from '../session/relay.js';"),
    ...importsOf(join(root, 'proxy', 'upstream', 'planted.ts'), "import { Server } from '../server/server.js';"),
    ...importsOf(join(root, 'proxy', 'server', 'planted.ts'), "import { startTunnel } from '../tunnel/run-tunnel.js';"),
  ];
  assert.equal(roomViolations(planted).length, planted.length);
  assert.deepEqual(roomViolations(importsOf(join(root, 'proxy', 'session', 'planted.ts'), "import { dial } from '../upstream/dial.js';")), []);
});

test('nothing but the CLI imports the tunnel, and nothing but the CLI imports the fleet', () => {
  const bad = violations(
    (e) =>
      e.file.startsWith('proxy/') &&
      !isTest(e.file) &&
      !e.file.startsWith('proxy/cli/') &&
      roomOf(e.file) !== roomOf(e.target) &&
      (e.target.startsWith('proxy/tunnel/') || e.target.startsWith('proxy/fleet/')),
  );
  assert.deepEqual(bad, []);
});

test('auth/ never imports proxy/ or emulator/', () => {
  const bad = violations((e) => e.file.startsWith('auth/') && (e.target.startsWith('proxy/') || e.target.startsWith('emulator/')));
  assert.deepEqual(bad, []);
});

test('emulator/ never imports auth/ or proxy/', () => {
  const bad = violations((e) => e.file.startsWith('emulator/') && (e.target.startsWith('auth/') || e.target.startsWith('proxy/')));
  assert.deepEqual(bad, []);
});

test('below the CLI, proxy/ reaches auth/ only through its types and errors (plus the few helpers listed here)', () => {
  const everywhere = ['auth/types.ts', 'auth/errors.ts', 'auth/aws-names.ts'];
  const allowedFor = (file: string): readonly string[] => {
    // Config validation applies the same Redshift name rules as the mapper.
    if (file === 'proxy/config/cross-check.ts') return [...everywhere, 'auth/redshift-names.ts'];
    // The tunnel mints a token per connection; the credential source is auth's.
    if (file.startsWith('proxy/tunnel/')) return [...everywhere, 'auth/token-mint.ts'];
    if (file === 'proxy/cli/credentials.ts') return [...everywhere, 'auth/index.ts', 'auth/token-mint.ts', 'auth/redshift-minter.ts', 'auth/serverless-minter.ts'];
    if (file === 'proxy/cli/credentials-errors.ts') return [...everywhere, 'auth/aws-errors.ts'];
    if (file.startsWith('proxy/cli/')) return [...everywhere, 'auth/index.ts', 'auth/token-mint.ts'];
    return everywhere;
  };
  const bad = violations((e) => e.file.startsWith('proxy/') && !isTest(e.file) && e.target.startsWith('auth/') && !allowedFor(e.file).includes(e.target));
  assert.deepEqual(bad, []);
});

test('bench/ and test/ share helpers through testkit/ and never import each other; testkit/ imports neither', () => {
  const bad = violations(
    (e) =>
      (e.file.startsWith('bench/') && !isTest(e.file) && e.target.startsWith('test/')) ||
      (e.file.startsWith('testkit/') && (e.target.startsWith('test/') || e.target.startsWith('bench/'))),
  );
  assert.deepEqual(bad, []);
});

test('each AWS SDK package is imported by exactly one module', () => {
  const owners: Record<string, readonly string[]> = {
    '@aws-sdk/client-redshift': ['auth/redshift-minter.ts'],
    '@aws-sdk/client-redshift-serverless': ['auth/serverless-minter.ts'],
    '@aws-sdk/client-sts': ['auth/assume-role.ts'],
    '@smithy/signature-v4': ['auth/token-mint.ts'],
    '@aws-sdk/credential-providers': ['auth/token-mint.ts'],
  };
  const bad = violations((e) => {
    if (e.file.startsWith('test/') || e.file.startsWith('bench/')) return false; // oracles in tests
    const owner = owners[e.spec];
    return owner !== undefined && !owner.includes(e.file.replace(/\.test\.ts$/, '.ts'));
  });
  assert.deepEqual(bad, []);
});

test('the emulator uses no AWS signer: its SigV4 check is independent', () => {
  const bad = violations((e) => e.file.startsWith('emulator/') && (e.spec.startsWith('@smithy/') || e.spec.startsWith('@aws-sdk/') || e.spec.startsWith('@aws-crypto/')) && !isTest(e.file));
  assert.deepEqual(bad, []);
});

test('only the server, session, upstream, fleet and tunnel rooms and the emulator open sockets', () => {
  const socketModules = new Set(['node:net', 'node:tls', 'net', 'tls']);
  const socketRooms = new Set(['proxy/server', 'proxy/session', 'proxy/upstream', 'proxy/fleet', 'proxy/tunnel', 'emulator', 'testkit', 'test', 'bench']);
  const bad = violations((e) => socketModules.has(e.spec) && !e.isTypeOnly && !isTest(e.file) && !socketRooms.has(roomOf(e.file)));
  assert.deepEqual(bad, []);
});

test('within auth/, only the STS verifier makes HTTP requests itself', () => {
  const httpModules = new Set(['node:https', 'node:http', 'https', 'http', 'undici']);
  const bad = violations((e) => e.file.startsWith('auth/') && !isTest(e.file) && httpModules.has(e.spec) && e.file !== 'auth/sts-verifier.ts');
  assert.deepEqual(bad, []);
});

test('product code never imports test code', () => {
  const bad = violations((e) => !['test', 'bench', 'testkit'].includes(roomOf(e.file)) && !isTest(e.file) && ['test', 'testkit'].includes(roomOf(e.target)));
  assert.deepEqual(bad, []);
});

test('rsproxy tunnel reuses the shared codec, relay and upstream dial; only its listener opens sockets', () => {
  const specsOf = (file: string): Set<string> => new Set(allEdges.filter((e) => e.file === file && !e.isTypeOnly).map((e) => e.target));
  const session = specsOf('proxy/tunnel/tunnel-session.ts');
  for (const shared of ['proxy/session/relay.ts', 'proxy/upstream/dial.ts', 'proxy/upstream/cancel.ts', 'proxy/protocol/startup-framer.ts', 'proxy/protocol/frontend.ts', 'proxy/protocol/backend.ts', 'proxy/protocol/upstream.ts', 'proxy/protocol/framer.ts']) {
    assert.ok(session.has(shared), `tunnel-session.ts must import ${shared} (no second copy)`);
  }
  assert.ok(!session.has('node:net'), 'tunnel-session.ts must not open sockets; the listener does');
  assert.ok(specsOf('proxy/tunnel/tunnel-listener.ts').has('proxy/tunnel/tunnel-session.ts'));
});
