/** Statement text for audit records: fingerprints (every literal a `?`), masked secrets, and cutting at a byte limit. */
import { SqlScanner } from './sql-lexer.js';

/** The audit.statements modes that record a statement. */
export type StatementMode = 'fingerprint' | 'full';

/** Punctuation written with no space before it: , ; ) ] . :: */
const isTightBefore = (text: string, start: number, end: number): boolean => {
  const c = text.charCodeAt(start);
  return end - start === 2 || c === 0x2c || c === 0x3b || c === 0x29 || c === 0x5d || c === 0x2e;
};
/** Punctuation written with no space after it: ( [ . :: */
const isTightAfter = (text: string, start: number, end: number): boolean => {
  const c = text.charCodeAt(start);
  return end - start === 2 || c === 0x28 || c === 0x5b || c === 0x2e;
};

/**
 * The statement with every literal (strings of every kind, dollar-quoted bodies, numbers) replaced by
 * `?`, comments dropped and spacing canonical, so two statements that differ only in literals, comments
 * or whitespace have the same fingerprint. Never throws; never contains a literal's content.
 */
export function fingerprint(text: string): string {
  try {
    const token = new SqlScanner(text);
    let out = '';
    // Whether the part written last forbids a space after it (at the start: nothing to space from).
    let isAfterTight = true;
    while (token.next()) {
      const kind = token.kind;
      if (kind === 'space' || kind === 'comment') continue;
      if (kind === 'literal' || kind === 'number') {
        out += isAfterTight ? '?' : ' ?';
        isAfterTight = false;
        if (token.isAmbiguous) break;
        continue;
      }
      // Only punctuation tokens (, ; ) ] . :: ( [) are tight; "::" is the only two-character one.
      const isPunctuation = kind === 'punctuation';
      if (!isAfterTight && !(isPunctuation && isTightBefore(text, token.start, token.end))) out += ' ';
      out += text.slice(token.start, token.end);
      isAfterTight = isPunctuation && isTightAfter(text, token.start, token.end);
    }
    return out;
  } catch {
    return '?';
  }
}

/** Keywords whose following literal is a secret (Redshift CREATE/ALTER USER, COPY/UNLOAD credentials). */
export const secretKeywords: ReadonlySet<string> = new Set(['PASSWORD', 'CREDENTIALS', 'ACCESS_KEY_ID', 'SECRET_ACCESS_KEY', 'SESSION_TOKEN', 'MASTER_SYMMETRIC_KEY']);
const mentionsSecret = /password|credentials|secret_access_key|session_token|master_symmetric_key|aws_secret/i;
/** Any secret keyword or mention, anywhere. */
const anySecret = /password|credentials|access_key_id|secret_access_key|session_token|master_symmetric_key|aws_secret/i;
/** ASCII with no quote, double quote or dollar: no literal, quoted identifier or dollar quote can start in it. */
const hasNoLiteral = /^[^'"$\u0080-\uffff]*$/;
/** What a masked literal becomes. */
export const maskedLiteral = "'***'";

/**
 * The text as sent with every literal that follows a secret keyword (`PASSWORD '…'`, also E'…' and
 * dollar-quoted, with comments or `=` between) replaced by '***'. A literal whose content mentions
 * such a keyword (dynamic SQL in a string) is masked whole; a dollar-quoted body is masked recursively
 * (a procedure's code). From an ambiguous string on, the rest is masked. Never throws.
 */
export function maskPasswords(text: string): string {
  return maskAtDepth(text, 0);
}

/** Comments and dollar quotes nested deeper than this are masked whole if they mention a secret (bounds the work). */
const maxMaskDepth = 4;

function maskAtDepth(text: string, depth: number): string {
  if (depth > maxMaskDepth) return mentionsSecret.test(text) ? maskedLiteral : text;
  // Nothing to mask without a literal or a secret keyword; non-ASCII is lexed (toUpperCase maps 'ß' and 'ſ' to S).
  if (hasNoLiteral.test(text) && !anySecret.test(text)) return text;
  try {
    return maskTokens(text, depth);
  } catch {
    return maskedLiteral;
  }
}

function maskTokens(text: string, depth: number): string {
  let out = '';
  let copiedTo = 0;
  let afterSecretKeyword = false;
  const token = new SqlScanner(text);
  while (token.next()) {
    if (token.kind === 'space') continue;
    if (token.kind === 'comment') {
      // A server that does not nest comments may read part of this one as code: mask inside it too.
      const open = 2;
      const close = token.isUnterminated || text.startsWith('--', token.start) ? token.end : token.end - 2;
      const inner = text.slice(token.start + open, close);
      const masked = maskAtDepth(inner, depth + 1);
      if (masked !== inner) {
        out += text.slice(copiedTo, token.start + open) + masked;
        copiedTo = close;
      }
      continue;
    }
    if (token.kind === 'literal') {
      let replacement: string | undefined;
      if (afterSecretKeyword || token.isAmbiguous || token.isUnterminated) replacement = maskedLiteral;
      else if (token.bodyStart !== -1) {
        const body = text.slice(token.bodyStart, token.bodyEnd);
        const masked = maskAtDepth(body, depth + 1);
        if (masked !== body) replacement = text.slice(token.start, token.bodyStart) + masked + text.slice(token.bodyEnd, token.end);
      } else if (mentionsSecret.test(text.slice(token.start, token.end))) replacement = maskedLiteral;
      if (replacement !== undefined) {
        out += text.slice(copiedTo, token.start) + replacement;
        copiedTo = token.isAmbiguous ? text.length : token.end;
        // An unterminated literal reaches the end anyway; an ambiguous one hides all that follows.
        if (token.isAmbiguous) break;
      }
      // 'abc'<newline>'def' is one string: a literal right after a masked secret is masked too.
      continue;
    }
    if (token.kind === 'operator' && afterSecretKeyword && text.slice(token.start, token.end) === '=') continue;
    if (afterSecretKeyword && (token.kind === 'number' || token.kind === 'quoted-identifier')) {
      // Not valid syntax for a password, but never worth recording.
      out += text.slice(copiedTo, token.start) + maskedLiteral;
      copiedTo = token.end;
      continue;
    }
    afterSecretKeyword = token.kind === 'identifier' && secretKeywords.has(text.slice(token.start, token.end).toUpperCase());
  }
  return out + text.slice(copiedTo);
}

/** `text` cut to at most `maxBytes` UTF-8 bytes at a code point boundary. */
export function truncateUtf8(text: string, maxBytes: number): { text: string; truncated: boolean } {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: most statements fit without counting.
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text, 'utf8') <= maxBytes) return { text, truncated: false };
  const bytes = Buffer.from(text, 'utf8');
  let cut = Math.max(0, Math.floor(maxBytes));
  while (cut > 0 && ((bytes[cut] ?? 0) & 0xc0) === 0x80) cut--;
  return { text: bytes.subarray(0, cut).toString('utf8'), truncated: true };
}

/**
 * The `text` (and `truncated`) of a statement record: the fingerprint, or the masked text as sent.
 * Both are cut at maxStatementBytes: a fingerprint of a 10 MB multi-row INSERT would be megabytes of `?`.
 */
export function statementRecordText(mode: StatementMode, sql: string, maxStatementBytes: number): { text: string; truncated?: true } {
  if (mode === 'fingerprint') {
    const cut = truncateUtf8(fingerprint(sql), maxStatementBytes);
    return cut.truncated ? { text: cut.text, truncated: true } : { text: cut.text };
  }
  // Cut, mask, cut again: the work stays bounded by the limit, and a literal the cut leaves open is masked whole.
  const first = truncateUtf8(sql, maxStatementBytes);
  const cut = truncateUtf8(maskPasswords(first.text), maxStatementBytes);
  return first.truncated || cut.truncated ? { text: cut.text, truncated: true } : { text: cut.text };
}
