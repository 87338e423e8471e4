import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { commandSpecs } from './command-specs.js';
import { referencePages, regenerateCommand } from './reference-pages.js';
import { renderCliReference } from './reference.js';

// dist/proxy/cli/reference.test.js → the project root is three levels up.
const root = new URL('../../../', import.meta.url);

for (const page of referencePages) {
  test(`${page.path} is up to date with the code`, () => {
    let onDisk = '';
    try {
      onDisk = readFileSync(new URL(page.path, root), 'utf8');
    } catch {
      assert.fail(`${page.path} is missing; run \`${regenerateCommand}\``);
    }
    assert.ok(onDisk === page.render(), `${page.path} differs from what the code renders; run \`${regenerateCommand}\` and commit the result`);
  });
}

test('the CLI reference has a section per command with every documented option, and no hidden alias', () => {
  const md = renderCliReference();
  for (const spec of commandSpecs) {
    assert.ok(md.includes(`\n## ${spec.name}\n`), spec.name);
    for (const o of spec.options) assert.ok(md.includes(`\`--${o.name}\``), `${spec.name} --${o.name}`);
  }
  assert.doesNotMatch(md, /`--db-name`|`--database`/);
});
