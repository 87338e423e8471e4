/** Enforces the layer rules of shared/spec/style.md §2 on every source file's import specifiers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/architecture.test.js → project root is two levels up.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const sourceDirs = ['proxy', 'auth', 'emulator', 'test', 'bench'];

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

test('proxy/protocol is a pure codec: node:buffer, node:crypto and its own files only', () => {
  const bad = violations(
    (e) =>
      e.file.startsWith('proxy/protocol/') &&
      !isTest(e.file) &&
      !(e.target.startsWith('proxy/protocol/') || e.spec === 'node:buffer' || e.spec === 'node:crypto'),
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

test('proxy/session and proxy/protocol reach auth/ only through its types and errors', () => {
  const allowed = new Set(['auth/types.ts', 'auth/errors.ts']);
  const bad = violations(
    (e) =>
      (e.file.startsWith('proxy/session/') || e.file.startsWith('proxy/protocol/')) &&
      !isTest(e.file) &&
      e.target.startsWith('auth/') &&
      !allowed.has(e.target),
  );
  assert.deepEqual(bad, []);
});

test('proxy/errors.ts, proxy/log.ts, proxy/metrics.ts and proxy/observer.ts are leaves: nothing from the session, server, main or CLI', () => {
  const leaves = new Set(['proxy/errors.ts', 'proxy/log.ts', 'proxy/metrics.ts', 'proxy/observer.ts']);
  for (const leaf of ['proxy/metrics-ops.ts', 'proxy/build-info.ts']) leaves.add(leaf);
  const upper = (t: string) => t.startsWith('proxy/session/') || t === 'proxy/server.ts' || t === 'proxy/main.ts' || t.startsWith('proxy/cli/');
  const bad = violations((e) => leaves.has(e.file) && upper(e.target));
  assert.deepEqual(bad, []);
});

test('proxy/ outside the session reaches auth/ only through its public surface (plus the few helpers listed here)', () => {
  const everywhere = ['auth/types.ts', 'auth/errors.ts'];
  const cli = [...everywhere, 'auth/index.ts', 'auth/token-mint.ts'];
  const allowedFor = (file: string): readonly string[] => {
    if (file === 'proxy/main.ts') return [...everywhere, 'auth/index.ts'];
    // Config validation applies the same Redshift name rules as the mapper.
    if (file === 'proxy/config.ts') return [...everywhere, 'auth/redshift-names.ts'];
    // `rsproxy credentials` calls the minters directly (no proxy in between) and explains their errors.
    if (file === 'proxy/cli/credentials.ts') return [...cli, 'auth/redshift-minter.ts', 'auth/serverless-minter.ts'];
    if (file === 'proxy/cli/credentials-errors.ts') return [...cli, 'auth/aws-errors.ts'];
    if (file.startsWith('proxy/cli/')) return cli;
    return everywhere;
  };
  const bad = violations(
    (e) =>
      e.file.startsWith('proxy/') &&
      !e.file.startsWith('proxy/session/') &&
      !e.file.startsWith('proxy/protocol/') &&
      !isTest(e.file) &&
      e.target.startsWith('auth/') &&
      !allowedFor(e.file).includes(e.target),
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

test('only the server, the session and the emulator open sockets', () => {
  const socketModules = new Set(['node:net', 'node:tls', 'net', 'tls']);
  const bad = violations(
    (e) =>
      socketModules.has(e.spec) &&
      !e.isTypeOnly &&
      !isTest(e.file) &&
      !(
        e.file === 'proxy/server.ts' ||
        e.file.startsWith('proxy/session/') ||
        e.file.startsWith('emulator/') ||
        e.file.startsWith('test/') ||
        e.file.startsWith('bench/')
      ),
  );
  assert.deepEqual(bad, []);
});

test('within auth/, only the STS verifier makes HTTP requests itself', () => {
  const httpModules = new Set(['node:https', 'node:http', 'https', 'http', 'undici']);
  const bad = violations((e) => e.file.startsWith('auth/') && !isTest(e.file) && httpModules.has(e.spec) && e.file !== 'auth/sts-verifier.ts');
  assert.deepEqual(bad, []);
});

test('library code never imports test code', () => {
  const bad = violations((e) => !e.file.startsWith('test/') && !e.file.startsWith('bench/') && !isTest(e.file) && e.target.startsWith('test/'));
  assert.deepEqual(bad, []);
});

test('rsproxy tunnel reuses the shared codec, relay and upstream dial; only its listener opens sockets; its CLI reaches auth/ through token-mint', () => {
  const specsOf = (file: string): Set<string> => new Set(allEdges.filter((e) => e.file === file && !e.isTypeOnly).map((e) => e.target));
  const session = specsOf('proxy/session/tunnel-session.ts');
  for (const shared of ['proxy/session/relay.ts', 'proxy/session/upstream-dial.ts', 'proxy/session/upstream-cancel.ts', 'proxy/protocol/startup-framer.ts', 'proxy/protocol/frontend.ts', 'proxy/protocol/backend.ts', 'proxy/protocol/upstream.ts', 'proxy/protocol/framer.ts']) {
    assert.ok(session.has(shared), `tunnel-session.ts must import ${shared} (no second copy)`);
  }
  assert.ok(!session.has('node:net'), 'tunnel-session.ts must not open sockets; the listener does');
  assert.ok(specsOf('proxy/session/tunnel-listener.ts').has('proxy/session/tunnel-session.ts'));
  const cli = [...specsOf('proxy/cli/tunnel.ts'), ...specsOf('proxy/cli/tunnel-tokens.ts')].filter((t) => t.startsWith('auth/') || t.startsWith('@aws-sdk/') || t.startsWith('@smithy/'));
  assert.deepEqual(cli.sort(), ['auth/errors.ts', 'auth/token-mint.ts', 'auth/types.ts']);
});
