/** The repo stands alone: no file sends a reader outside it, and every docs/ page a comment cites exists. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/repo-hygiene.test.js → project root is two levels up.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const skipDirs = new Set(['node_modules', 'dist', 'dist-exe', '.git']);
const textExtensions = ['.ts', '.md', '.json', '.yaml', '.yml', '.sh', '.py', '.java', '.mjs'];

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (skipDirs.has(name)) continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listFiles(full));
    else if (textExtensions.some((e) => name.endsWith(e)) || name === 'run' || name === 'Dockerfile') out.push(full);
  }
  return out;
}

const files = listFiles(root).map((f) => relative(root, f));
// The old brief's files, cited bare (not as a docs/design/ page of the same name).
const briefCitation = /(?<![\w/.-])(?:wire|token|aws|contract|style)\.md(?:\s*§\s*[\d.]+)?/;
const outside = /shared\/spec|\.\.\/shared\//;

/** The one file that must spell the old brief's names: this test. */
const historical = new Set(['test/repo-hygiene.test.ts']);

test('the scan finds the source and docs', () => {
  assert.ok(files.includes('README.md'));
  assert.ok(files.some((f) => f.startsWith('proxy/session/')));
  assert.ok(files.some((f) => f.startsWith('docs/design/')));
});

test('no file points outside the repo (to the brief beside it)', () => {
  const bad = files.filter((f) => !historical.has(f) && outside.test(readFileSync(join(root, f), 'utf8')));
  assert.deepEqual(bad, []);
});

test('no file cites a brief file that is not in the repo (a bare wire, token, aws, contract or style .md with or without a § number)', () => {
  const bad: string[] = [];
  for (const f of files) {
    if (historical.has(f) || f.startsWith('docs/design/')) continue;
    readFileSync(join(root, f), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const m = briefCitation.exec(line);
        if (m !== null) bad.push(`${f}:${i + 1}: ${m[0]}`);
      });
  }
  assert.deepEqual(bad, []);
});

test('every docs/ page that code and docs cite exists, and every cited § is a heading of that page', () => {
  const cite = /docs\/(?:design|reference|operations|clients)\/[\w.-]+\.md(?:\s*§\s*(\d+))?/g;
  const bad: string[] = [];
  for (const f of files) {
    for (const m of readFileSync(join(root, f), 'utf8').matchAll(cite)) {
      const page = m[0].replace(/\s*§.*$/, '');
      if (!existsSync(join(root, page))) {
        bad.push(`${f}: ${page} does not exist`);
        continue;
      }
      const section = m[1];
      if (section !== undefined && !new RegExp(`^#{2,3} ${section}\\.`, 'm').test(readFileSync(join(root, page), 'utf8'))) bad.push(`${f}: ${m[0]} has no such section`);
    }
  }
  assert.deepEqual(bad, []);
});

test('relative links in the README and docs/ point at files that exist', () => {
  const bad: string[] = [];
  for (const f of files.filter((x) => x.endsWith('.md') && !historical.has(x))) {
    for (const m of readFileSync(join(root, f), 'utf8').matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      if (!existsSync(resolve(root, dirname(f), target))) bad.push(`${f}: ${target}`);
    }
  }
  assert.deepEqual(bad, []);
});
