/**
 * A small SQL tokenizer for the audit trail: it finds literals, comments and everything else, and never
 * throws. It does not parse: Redshift SQL is not PostgreSQL SQL, and a statement a parser rejects must
 * still be fingerprinted and masked.
 *
 * Where PostgreSQL and Redshift lex differently it errs towards hiding more:
 * - Plain '…' strings: Redshift (like PostgreSQL before standard_conforming_strings) takes \' as an
 *   escaped quote, PostgreSQL ends the string there. The lexer follows Redshift and marks such a string
 *   `isAmbiguous`; callers then treat everything from it to the end of the text as a literal.
 * - Block comments nest (PostgreSQL); a lexer that nests never ends a comment before a server that
 *   does not nest would, so comment text is never taken for code.
 * - An unterminated string, quoted identifier, dollar quote or comment runs to the end of the text.
 */

/** What a token is. `literal` covers '…', E'…', B'…', X'…', N'…', U&'…' and $tag$…$tag$. */
export type SqlTokenKind = 'space' | 'comment' | 'identifier' | 'quoted-identifier' | 'literal' | 'number' | 'parameter' | 'operator' | 'punctuation' | 'other';

/** One token: its kind and where it is in the text (UTF-16 offsets, end exclusive). */
export interface SqlToken {
  kind: SqlTokenKind;
  start: number;
  end: number;
  /** A string whose end depends on how backslashes are read (see above); hide from here on. */
  isAmbiguous?: true;
  /** A literal or comment that runs to the end of the text. */
  isUnterminated?: true;
  /** A dollar-quoted literal: the offsets of its body (between the delimiters). */
  body?: { start: number; end: number };
}

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isIdentStart = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c >= 0x80;
const isIdentPart = (c: number): boolean => isIdentStart(c) || isDigit(c) || c === 0x24;
/** PostgreSQL's operator characters. */
const operatorChars = new Set([...'+-*/<>=~!@#%^&|`?'].map((ch) => ch.charCodeAt(0)));
const punctuation = new Set([...'()[],;:.'].map((ch) => ch.charCodeAt(0)));
const quote = 0x27;
const doubleQuote = 0x22;
const backslash = 0x5c;
const dollar = 0x24;
/** E, B, X and N (either case) before a quote start a string. */
const isStringPrefix = (c: number): boolean => c === 0x65 || c === 0x45 || c === 0x62 || c === 0x42 || c === 0x78 || c === 0x58 || c === 0x6e || c === 0x4e;

/** Scans a '…' string whose opening quote is at `open` into `t` (backslash escapes as Redshift reads them); `start` is the token's start (a prefix such as E included). */
function scanString(t: SqlScanner, start: number, open: number, isEscapeString: boolean): void {
  const text = t.text;
  t.set('literal', start, text.length);
  let i = open + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === backslash) {
      if (!isEscapeString && text.charCodeAt(i + 1) === quote) t.isAmbiguous = true;
      i += 2;
    } else if (c === quote) {
      if (text.charCodeAt(i + 1) !== quote) {
        t.end = i + 1;
        return;
      }
      i += 2;
    } else {
      i++;
    }
  }
  t.isUnterminated = true;
}

/** A "…" identifier at `open` (the token starting at `start`); unterminated, it is hidden like a literal. */
function scanQuotedIdentifierToken(t: SqlScanner, start: number, open: number): void {
  const end = scanQuotedIdentifier(t.text, open);
  if (end !== -1) return t.set('quoted-identifier', start, end);
  t.set('literal', start, t.text.length);
  t.isUnterminated = true;
}

/** End of a "…" identifier ("" doubles a quote); -1 if unterminated. */
function scanQuotedIdentifier(text: string, open: number): number {
  let i = open + 1;
  while (i < text.length) {
    if (text.charCodeAt(i) === doubleQuote) {
      if (text.charCodeAt(i + 1) !== doubleQuote) return i + 1;
      i += 2;
    } else {
      i++;
    }
  }
  return -1;
}

/** End of a /* comment (nested) starting at `open`; -1 if unterminated. */
function scanBlockComment(text: string, open: number): number {
  let depth = 0;
  let i = open;
  while (i < text.length) {
    if (text.startsWith('/*', i)) {
      depth++;
      i += 2;
    } else if (text.startsWith('*/', i)) {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return -1;
}

/** The $tag$ opening a dollar quote at `open`, if there is one. */
function dollarTag(text: string, open: number): string | undefined {
  let i = open + 1;
  if (i < text.length && text.charCodeAt(i) !== dollar) {
    if (!isIdentStart(text.charCodeAt(i))) return undefined;
    while (i < text.length && isIdentPart(text.charCodeAt(i)) && text.charCodeAt(i) !== dollar) i++;
  }
  return text.charCodeAt(i) === dollar ? text.slice(open, i + 1) : undefined;
}

/** End of a run of operator characters; a -- or /* inside it starts a comment instead. */
function scanOperator(text: string, open: number): number {
  let i = open;
  while (i < text.length && operatorChars.has(text.charCodeAt(i))) {
    if (i > open && (text.startsWith('--', i) || text.startsWith('/*', i))) break;
    i++;
  }
  return i;
}

function scanNumber(text: string, open: number): number {
  let i = open;
  while (isDigit(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) === 0x2e && text.charCodeAt(i + 1) !== 0x2e) {
    i++;
    while (isDigit(text.charCodeAt(i))) i++;
  }
  const e = text.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    const sign = text.charCodeAt(i + 1);
    const first = sign === 0x2b || sign === 0x2d ? i + 2 : i + 1;
    if (isDigit(text.charCodeAt(first))) {
      i = first;
      while (isDigit(text.charCodeAt(i))) i++;
    }
  }
  return i;
}

/** Fills `t` with the token at `i` (i < text.length). */
function scanToken(t: SqlScanner, i: number): void {
  const text = t.text;
  const c = text.charCodeAt(i);
  const next = text.charCodeAt(i + 1);
  if (isSpace(c)) {
    let j = i + 1;
    while (j < text.length && isSpace(text.charCodeAt(j))) j++;
    return t.set('space', i, j);
  }
  if (c === 0x2d && next === 0x2d) {
    const nl = text.indexOf('\n', i);
    return t.set('comment', i, nl === -1 ? text.length : nl);
  }
  if (c === 0x2f && next === 0x2a) {
    const end = scanBlockComment(text, i);
    t.set('comment', i, end === -1 ? text.length : end);
    if (end === -1) t.isUnterminated = true;
    return;
  }
  if (c === quote) return scanString(t, i, i, false);
  if (c === doubleQuote) return scanQuotedIdentifierToken(t, i, i);
  if (c === dollar) {
    if (isDigit(next)) {
      let j = i + 1;
      while (isDigit(text.charCodeAt(j))) j++;
      return t.set('parameter', i, j);
    }
    const tag = dollarTag(text, i);
    if (tag === undefined) return t.set('other', i, i + 1);
    const bodyStart = i + tag.length;
    const close = text.indexOf(tag, bodyStart);
    t.set('literal', i, close === -1 ? text.length : close + tag.length);
    t.bodyStart = bodyStart;
    t.bodyEnd = close === -1 ? text.length : close;
    if (close === -1) t.isUnterminated = true;
    return;
  }
  if (isDigit(c) || (c === 0x2e && isDigit(next))) return t.set('number', i, scanNumber(text, i));
  if (isIdentStart(c)) {
    // Prefixed strings: E'…' (backslash escapes), B'…', X'…', N'…', U&'…'; U&"…" is an identifier.
    if (next === quote && isStringPrefix(c)) return scanString(t, i, i + 1, c === 0x65 || c === 0x45);
    if ((c === 0x75 || c === 0x55) && next === 0x26) {
      const after = text.charCodeAt(i + 2);
      if (after === quote) return scanString(t, i, i + 2, false);
      if (after === doubleQuote) return scanQuotedIdentifierToken(t, i, i + 2);
    }
    let j = i + 1;
    while (j < text.length && isIdentPart(text.charCodeAt(j))) j++;
    return t.set('identifier', i, j);
  }
  if (c === 0x3a && next === 0x3a) return t.set('punctuation', i, i + 2);
  if (punctuation.has(c)) return t.set('punctuation', i, i + 1);
  if (operatorChars.has(c)) return t.set('operator', i, scanOperator(text, i));
  return t.set('other', i, i + 1);
}

/**
 * Walks a text token by token: next() fills kind, start, end and the flags in place, so a statement is
 * fingerprinted with no allocation per token (a record per query is on the relay's path).
 */
export class SqlScanner {
  kind: SqlTokenKind = 'other';
  start = 0;
  end = 0;
  isAmbiguous = false;
  isUnterminated = false;
  /** A dollar-quoted literal's body offsets; -1 for any other token. */
  bodyStart = -1;
  bodyEnd = -1;
  private at = 0;

  constructor(readonly text: string) {}

  /** Moves to the next token; false at the end of the text. */
  next(): boolean {
    if (this.at >= this.text.length) return false;
    scanToken(this, this.at);
    this.at = this.end > this.at ? this.end : this.at + 1;
    return true;
  }

  /** Sets the current token and clears its flags. */
  set(kind: SqlTokenKind, start: number, end: number): void {
    this.kind = kind;
    this.start = start;
    this.end = end;
    this.isAmbiguous = false;
    this.isUnterminated = false;
    this.bodyStart = -1;
    this.bodyEnd = -1;
  }

  /** The current token as an object. */
  token(): SqlToken {
    const token: SqlToken = { kind: this.kind, start: this.start, end: this.end };
    if (this.isAmbiguous) token.isAmbiguous = true;
    if (this.isUnterminated) token.isUnterminated = true;
    if (this.bodyStart !== -1) token.body = { start: this.bodyStart, end: this.bodyEnd };
    return token;
  }
}

/** Splits `text` into tokens that cover it end to end. Never throws. */
export function lexSql(text: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  const scanner = new SqlScanner(text);
  while (scanner.next()) tokens.push(scanner.token());
  return tokens;
}
