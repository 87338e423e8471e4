/** The generated reference pages under docs/reference/: each is rendered from code, written by `npm run docs:reference`, and checked by a test. */
import { renderCliReference } from './reference.js';

/** One generated page: its path from the project root and the function that renders it. */
export interface ReferencePage {
  readonly path: string;
  readonly render: () => string;
}

/** Every generated page; add a page here and both the generator and the freshness test pick it up. */
export const referencePages: readonly ReferencePage[] = [{ path: 'docs/reference/cli.md', render: renderCliReference }];

/** The npm script that regenerates the pages. */
export const regenerateCommand = 'npm run docs:reference';
