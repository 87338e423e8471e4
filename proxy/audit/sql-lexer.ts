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

/** End of a '…' string whose opening quote is at `open`; backslash escapes as Redshift reads them. */
function scanString(text: string, open: number, isEscapeString: boolean): { end: number; isAmbiguous: boolean; isClosed: boolean } {
  let isAmbiguous = false;
  let i = open + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === backslash) {
      if (!isEscapeString && text.charCodeAt(i + 1) === quote) isAmbiguous = true;
      i += 2;
    } else if (c === quote) {
      if (text.charCodeAt(i + 1) !== quote) return { end: i + 1, isAmbiguous, isClosed: true };
      i += 2;
    } else {
      i++;
    }
  }
  return { end: text.length, isAmbiguous, isClosed: false };
}

/** A string token from a scan that began at `start` (a prefix such as E included). */
function stringToken(start: number, s: { end: number; isAmbiguous: boolean; isClosed: boolean }): SqlToken {
  return { kind: 'literal', start, end: s.end, ...(s.isAmbiguous ? { isAmbiguous: true as const } : {}), ...(s.isClosed ? {} : { isUnterminated: true as const }) };
}

/** An unterminated "… identifier: hidden like a literal. */
const openQuotedIdentifier = (start: number, text: string): SqlToken => ({ kind: 'literal', start, end: text.length, isUnterminated: true });

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

/** The token at `i` (i < text.length). */
function nextToken(text: string, i: number): SqlToken {
  const c = text.charCodeAt(i);
  const next = text.charCodeAt(i + 1);
  if (isSpace(c)) {
    let j = i + 1;
    while (j < text.length && isSpace(text.charCodeAt(j))) j++;
    return { kind: 'space', start: i, end: j };
  }
  if (c === 0x2d && next === 0x2d) {
    const nl = text.indexOf('\n', i);
    return { kind: 'comment', start: i, end: nl === -1 ? text.length : nl };
  }
  if (c === 0x2f && next === 0x2a) {
    const end = scanBlockComment(text, i);
    return end === -1 ? { kind: 'comment', start: i, end: text.length, isUnterminated: true } : { kind: 'comment', start: i, end };
  }
  if (c === quote) return stringToken(i, scanString(text, i, false));
  if (c === doubleQuote) {
    const end = scanQuotedIdentifier(text, i);
    return end === -1 ? openQuotedIdentifier(i, text) : { kind: 'quoted-identifier', start: i, end };
  }
  if (c === dollar) {
    if (isDigit(next)) {
      let j = i + 1;
      while (isDigit(text.charCodeAt(j))) j++;
      return { kind: 'parameter', start: i, end: j };
    }
    const tag = dollarTag(text, i);
    if (tag !== undefined) {
      const bodyStart = i + tag.length;
      const close = text.indexOf(tag, bodyStart);
      if (close === -1) return { kind: 'literal', start: i, end: text.length, body: { start: bodyStart, end: text.length }, isUnterminated: true };
      return { kind: 'literal', start: i, end: close + tag.length, body: { start: bodyStart, end: close } };
    }
    return { kind: 'other', start: i, end: i + 1 };
  }
  if (isDigit(c) || (c === 0x2e && isDigit(next))) return { kind: 'number', start: i, end: scanNumber(text, i) };
  if (isIdentStart(c)) {
    // Prefixed strings: E'…' (backslash escapes), B'…', X'…', N'…', U&'…'; U&"…" is an identifier.
    if (next === quote && 'eEbBxXnN'.includes(text[i] ?? '')) {
      return stringToken(i, scanString(text, i + 1, c === 0x65 || c === 0x45));
    }
    if ((c === 0x75 || c === 0x55) && next === 0x26) {
      const after = text.charCodeAt(i + 2);
      if (after === quote) return stringToken(i, scanString(text, i + 2, false));
      if (after === doubleQuote) {
        const end = scanQuotedIdentifier(text, i + 2);
        return end === -1 ? openQuotedIdentifier(i, text) : { kind: 'quoted-identifier', start: i, end };
      }
    }
    let j = i + 1;
    while (j < text.length && isIdentPart(text.charCodeAt(j))) j++;
    return { kind: 'identifier', start: i, end: j };
  }
  if (c === 0x3a && next === 0x3a) return { kind: 'punctuation', start: i, end: i + 2 };
  if (punctuation.has(c)) return { kind: 'punctuation', start: i, end: i + 1 };
  if (operatorChars.has(c)) return { kind: 'operator', start: i, end: scanOperator(text, i) };
  return { kind: 'other', start: i, end: i + 1 };
}

/** Splits `text` into tokens that cover it end to end. Never throws. */
export function lexSql(text: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  let i = 0;
  while (i < text.length) {
    const token = nextToken(text, i);
    tokens.push(token);
    i = token.end > i ? token.end : i + 1;
  }
  return tokens;
}
