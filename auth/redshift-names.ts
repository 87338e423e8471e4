/** Redshift name rules for DbUser, DbGroups and DbName (docs/design/aws.md §3, docs/design/token.md §8 rule 4); checked, never rewritten. */
import { redshiftReservedWords } from './redshift-reserved-words.js';

const maxNameLength = 64;
const namePattern = /^[A-Za-z][A-Za-z0-9_+.@-]*$/;
const lowerNamePattern = /^[a-z][a-z0-9_+.@-]*$/;

function validateName(name: string, lowerCaseOnly: boolean): string | undefined {
  if (name.length < 1 || name.length > maxNameLength) return `must be 1-${maxNameLength} characters (got ${name.length})`;
  if (!/^[A-Za-z]/.test(name)) return 'must start with a letter';
  if (!namePattern.test(name)) return 'may contain only letters, digits and _ + . @ - (no : or /)';
  if (lowerCaseOnly && !lowerNamePattern.test(name)) return 'must be lower case';
  const upper = name.toUpperCase();
  if (upper === 'PUBLIC') return 'must not be PUBLIC';
  if (redshiftReservedWords.has(upper)) return 'must not be a Redshift reserved word';
  return undefined;
}

/** Checks a `DbUser` (GetClusterCredentials); returns what is wrong, or undefined when valid. */
export function validateDbUser(name: string): string | undefined {
  return validateName(name, false);
}

/** Checks one `DbGroups` entry (lower case only); returns what is wrong, or undefined when valid. */
export function validateDbGroup(name: string): string | undefined {
  return validateName(name, true);
}

/** Checks a `DbName` (lower case only); returns what is wrong, or undefined when valid. */
export function validateDbName(name: string): string | undefined {
  return validateName(name, true);
}
