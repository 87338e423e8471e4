/** `node dist/proxy/cli/write-reference.js`: writes every generated reference page (npm run docs:reference). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { referencePages } from './reference-pages.js';

// dist/proxy/cli/write-reference.js → the project root is three levels up.
const root = new URL('../../../', import.meta.url);

for (const page of referencePages) {
  const file = fileURLToPath(new URL(page.path, root));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, page.render());
  process.stdout.write(`wrote ${page.path}\n`);
}
