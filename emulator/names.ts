/** Redshift name rules for DbUser / DbName / DbGroups (docs/design/aws.md §3), written independently of auth/. */

// docs.aws.amazon.com/redshift/latest/dg/r_pg_keywords.html
const reservedWords = new Set(
  `AES128 AES256 ALL ALLOWOVERWRITE ANALYSE ANALYZE AND ANY ARRAY AS ASC AUTHORIZATION AZ64 BACKUP BETWEEN
  BINARY BLANKSASNULL BOTH BYTEDICT BZIP2 CASE CAST CHECK COLLATE COLUMN CONSTRAINT CREATE CREDENTIALS
  CROSS CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURRENT_USER_ID DEFAULT DEFERRABLE
  DEFLATE DEFRAG DELTA DELTA32K DESC DISABLE DISTINCT DO ELSE EMPTYASNULL ENABLE ENCODE ENCRYPT
  ENCRYPTION END EXCEPT EXPLICIT FALSE FOR FOREIGN FREEZE FROM FULL GLOBALDICT256 GLOBALDICT64K GRANT
  GROUP GZIP HAVING IDENTITY IGNORE ILIKE IN INITIALLY INNER INTERSECT INTERVAL INTO IS ISNULL JOIN
  LANGUAGE LEADING LEFT LIKE LIMIT LOCALTIME LOCALTIMESTAMP LUN LUNS LZO LZOP MINUS MOSTLY16 MOSTLY32
  MOSTLY8 NATURAL NEW NOT NOTNULL NULL NULLS OFF OFFLINE OFFSET OID OLD ON ONLY OPEN OR ORDER OUTER
  OVERLAPS PARALLEL PARTITION PERCENT PERMISSIONS PIVOT PLACING PRIMARY RAW READRATIO RECOVER REFERENCES
  REJECTLOG RESORT RESPECT RESTORE RIGHT SELECT SESSION_USER SIMILAR SNAPSHOT SOME SYSDATE SYSTEM TABLE
  TAG TDES TEXT255 TEXT32K THEN TIMESTAMP TO TOP TRAILING TRUE TRUNCATECOLUMNS UNION UNIQUE UNNEST
  UNPIVOT USER USING VERBOSE WALLET WHEN WHERE WITH WITHOUT`.split(/\s+/),
);

/** Which parameter a name is checked for: DbUser allows upper case; DbName and DbGroups do not. */
export type NameKind = 'DbUser' | 'DbName' | 'DbGroup';

const mixedCase = /^[A-Za-z][A-Za-z0-9_+.@-]{0,63}$/;
const lowerCase = /^[a-z][a-z0-9_+.@-]{0,63}$/;

/** Returns why `name` breaks the Redshift rules for `kind`, or undefined when it is valid. */
export function nameProblem(kind: NameKind, name: string): string | undefined {
  if (name.length < 1 || name.length > 64) return `${kind} must be 1 to 64 characters`;
  if (name.includes(':') || name.includes('/')) return `${kind} must not contain ':' or '/'`;
  if (!/^[A-Za-z]/.test(name)) return `${kind} must start with a letter`;
  const pattern = kind === 'DbUser' ? mixedCase : lowerCase;
  if (!pattern.test(name)) {
    return kind === 'DbUser'
      ? `${kind} may contain only letters, digits and _ + . @ -`
      : `${kind} may contain only lower-case letters, digits and _ + . @ -`;
  }
  const upper = name.toUpperCase();
  if (upper === 'PUBLIC') return `${kind} must not be PUBLIC`;
  if (reservedWords.has(upper)) return `${kind} must not be a reserved word`;
  return undefined;
}

/** True when `name` is a Redshift reserved word (case-insensitive). */
export function isReservedWord(name: string): boolean {
  return reservedWords.has(name.toUpperCase());
}
