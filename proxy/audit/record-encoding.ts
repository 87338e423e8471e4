/**
 * How records become bytes: an entry is sealed (encoded apart from its chain fields) when it is made, and the
 * writer encodes seq, time and prev around it when its turn comes. A statement record is written per query,
 * so its session's keys are encoded once per session, and per record only its text and the chain fields.
 */
import { headKeys, sessionKeys, tailKeys, type AuditEntry, type AuditEvent, type ChainFields, type ConnectionFields, type SessionFields, type StatementEntry } from './record.js';

/** A record serialised except for its chain fields (known only when its turn in the file comes), as the bytes around them. */
export interface SealedEntry {
  readonly event: AuditEvent;
  /** UTF-8 of what goes between the time and prev values: `",` the keys between them (event, connectionId, clientAddress) `,"prev":"`. */
  readonly afterTime: Buffer;
  /** UTF-8 of what follows the prev value: `",` and the keys after prev (a statement's up to its text's value). */
  readonly afterPrev: Buffer;
  /** JSON written after afterPrev as it is: a statement's text value and truncated key; '' for other events. */
  readonly tail: string;
}

const headOnly = headKeys.filter((k) => k !== 'seq' && k !== 'time' && k !== 'prev');
const keyPrefix = (key: string): string => `${JSON.stringify(key)}:`;

/** `"k":value,…` for `keys` of `source`; undefined is written as null, `truncated` only when true. */
function serializeKeys(source: Readonly<Record<string, unknown>>, keys: readonly string[]): string {
  let out = '';
  for (const key of keys) {
    const value = source[key];
    if (key === 'truncated' && value !== true) continue;
    out += `${out === '' ? '' : ','}${keyPrefix(key)}${JSON.stringify(value === undefined ? null : value)}`;
  }
  return out;
}

const afterTimeOf = (head: string): Buffer => Buffer.from(`",${head},${keyPrefix('prev')}"`, 'utf8');
const afterPrevOf = (body: string): Buffer => Buffer.from(`",${body}`, 'utf8');

/** The entry sealed; keys its event does not define are not written, so a stray field (a token) cannot leak. */
export function sealEntry(entry: AuditEntry): SealedEntry {
  const source = entry as unknown as Record<string, unknown>;
  const body = serializeKeys(source, [...sessionKeys, ...(tailKeys[entry.event] ?? [])]);
  return { event: entry.event, afterTime: afterTimeOf(serializeKeys(source, headOnly)), afterPrev: afterPrevOf(body), tail: '' };
}

/** Seals one session's statement records: fn(protocol, text, truncated). The session's keys are encoded once, here. */
export function statementSealer(session: ConnectionFields & SessionFields): (protocol: StatementEntry['protocol'], text: string, truncated: boolean) => SealedEntry {
  const source = session as unknown as Record<string, unknown>;
  const afterTime = afterTimeOf(serializeKeys({ ...source, event: 'statement' }, headOnly));
  const sessionBody = serializeKeys(source, sessionKeys);
  const afterPrev = {
    simple: afterPrevOf(`${sessionBody},${keyPrefix('protocol')}"simple",${keyPrefix('text')}`),
    extended: afterPrevOf(`${sessionBody},${keyPrefix('protocol')}"extended",${keyPrefix('text')}`),
  } as const;
  const truncatedKey = `,${keyPrefix('truncated')}true`;
  return (protocol, text, truncated) => ({ event: 'statement', afterTime, afterPrev: afterPrev[protocol], tail: truncated ? `${JSON.stringify(text)}${truncatedKey}` : JSON.stringify(text) });
}

/** The most bytes encodeRecord can write for `sealed` (seq, time and prev included). */
export function recordBytesMax(sealed: SealedEntry): number {
  // {"seq":<≤16 digits>,"time":"<24>  prev <64>  }\n; a UTF-16 code unit of the tail is at most 3 UTF-8 bytes.
  return 64 + sealed.afterTime.length + 64 + sealed.afterPrev.length + sealed.tail.length * 3 + 2;
}

/**
 * Writes the record's line and its newline into `target` at `offset` (room for recordBytesMax bytes) and returns
 * where it ends. The time (RFC 3339) and prev (hex) are the writer's own ASCII; only the tail needs UTF-8 encoding.
 */
export function encodeRecord(target: Buffer, offset: number, chain: ChainFields, sealed: SealedEntry): number {
  let at = offset + target.write(`{"seq":${chain.seq},"time":"${chain.time}`, offset, 'latin1');
  target.set(sealed.afterTime, at);
  at += sealed.afterTime.length;
  at += target.write(chain.prev, at, 'latin1');
  target.set(sealed.afterPrev, at);
  at += sealed.afterPrev.length;
  if (sealed.tail !== '') at += target.write(sealed.tail, at, 'utf8');
  target[at++] = 0x7d; // }
  target[at++] = 0x0a; // newline
  return at;
}

/** The record's line and its newline, in a buffer of its own. */
export function recordBytes(chain: ChainFields, sealed: SealedEntry): Buffer {
  const target = Buffer.allocUnsafe(recordBytesMax(sealed));
  return target.subarray(0, encodeRecord(target, 0, chain, sealed));
}

/** The line of a sealed entry at its place in the chain (no newline), keys in the order recordKeys gives. */
export function recordLine(chain: ChainFields, sealed: SealedEntry): string {
  const bytes = recordBytes(chain, sealed);
  return bytes.toString('utf8', 0, bytes.length - 1);
}

/** One record as one JSON line (no newline), keys in a fixed order whatever order the caller built the object in. */
export function serializeRecord(chain: ChainFields, entry: AuditEntry): string {
  return recordLine(chain, sealEntry(entry));
}
