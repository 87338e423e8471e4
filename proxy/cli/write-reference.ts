/** `npm run docs:reference`: writes every generated page of docs/reference/ from the code. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { referencePages } from './reference-pages.js';

// dist/proxy/cli/write-reference.js → the project root is three levels up.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
for (const page of referencePages) {
  const file = join(root, page.path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, page.render());
  process.stdout.write(`wrote ${page.path}\n`);
}
