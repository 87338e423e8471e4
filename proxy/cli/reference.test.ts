import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandSpecs } from './command-specs.js';
import { renderCliReference } from './reference.js';

// Freshness of docs/reference/cli.md on disk is checked with the other generated pages in reference-pages.test.ts.
test('the CLI reference has a section per command with every documented option, and no hidden alias', () => {
  const md = renderCliReference();
  for (const spec of commandSpecs) {
    assert.ok(md.includes(`\n## ${spec.name}\n`), spec.name);
    for (const o of spec.options.filter((x) => x.section === undefined)) assert.ok(md.includes(`\`--${o.name}\``), `${spec.name} --${o.name}`);
  }
  assert.doesNotMatch(md, /`--db-name`|`--database`/);
  // Config-key flags link to the page generated from the schema instead of repeating it.
  assert.doesNotMatch(md, /`--limits-login-timeout-ms` \|/);
  assert.match(md, /\[configuration\.md\]\(configuration\.md\)/);
});
