/**
 * How records become bytes: an entry is sealed (serialised apart from its chain fields) when it is made, and
 * the writer encodes seq, time and prev around it into one reusable buffer. A statement record is written per
 * query, so its session's keys are encoded once per session and nothing is allocated per record but its text.
 */
import { headKeys, sessionKeys, tailKeys, type AuditEntry, type AuditEvent, type ChainFields, type ConnectionFields, type SessionFields, type StatementEntry } from './record.js';

/** A record serialised except for its chain fields (known only when its turn in the file comes). */
export interface SealedEntry {
  readonly event: AuditEvent;
  /** UTF-8 JSON of the keys between `time` and `prev` (event, connectionId, clientAddress), comma-separated. */
  readonly head: Buffer;
  /** UTF-8 JSON of the keys after `prev`, comma-separated: all of them, or up to the statement's text. */
  readonly body: Buffer;
  /** JSON written after `body` as is: a statement's text and truncated keys; '' for other events. */
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

/** The entry sealed; keys its event does not define are not written, so a stray field (a token) cannot leak. */
export function sealEntry(entry: AuditEntry): SealedEntry {
  const source = entry as unknown as Record<string, unknown>;
  const body = serializeKeys(source, [...sessionKeys, ...(tailKeys[entry.event] ?? [])]);
  return { event: entry.event, head: Buffer.from(serializeKeys(source, headOnly)), body: Buffer.from(body), tail: '' };
}

/** Seals one session's statement records: fn(protocol, text, truncated). The session's keys are encoded once, here. */
export function statementSealer(session: ConnectionFields & SessionFields): (protocol: StatementEntry['protocol'], text: string, truncated: boolean) => SealedEntry {
  const source = session as unknown as Record<string, unknown>;
  const head = Buffer.from(serializeKeys({ ...source, event: 'statement' }, headOnly));
  const sessionBody = serializeKeys(source, sessionKeys);
  const bodies = {
    simple: Buffer.from(`${sessionBody},${keyPrefix('protocol')}"simple",${keyPrefix('text')}`),
    extended: Buffer.from(`${sessionBody},${keyPrefix('protocol')}"extended",${keyPrefix('text')}`),
  } as const;
  const truncatedKey = `,${keyPrefix('truncated')}true`;
  return (protocol, text, truncated) => ({ event: 'statement', head, body: bodies[protocol], tail: truncated ? `${JSON.stringify(text)}${truncatedKey}` : JSON.stringify(text) });
}

const seqKey = Buffer.from(`{${keyPrefix('seq')}`);
const timeKey = Buffer.from(`,${keyPrefix('time')}"`);
const prevKey = Buffer.from(`,${keyPrefix('prev')}"`);
/** Longest `seq` digits plus the quoted time and prev and the punctuation around them. */
const chainBytesMax = 16 + 32 + 70 + 16;

/** Encodes records into one buffer it reuses (grown when a record needs more); each result is valid until the next encode. */
export class RecordEncoder {
  private buf = Buffer.allocUnsafe(16 * 1024);

  /** The record's line with its newline, as a view of the encoder's buffer. */
  encode(chain: ChainFields, sealed: SealedEntry): Buffer {
    // A UTF-16 code unit is at most 3 UTF-8 bytes.
    const maxBytes = seqKey.length + timeKey.length + prevKey.length + chainBytesMax + sealed.head.length + sealed.body.length + sealed.tail.length * 3 + 8;
    if (this.buf.length < maxBytes) this.buf = Buffer.allocUnsafe(Math.max(maxBytes, this.buf.length * 2));
    const buf = this.buf;
    let at = seqKey.copy(buf, 0);
    at += buf.write(String(chain.seq), at, 'latin1');
    at += timeKey.copy(buf, at);
    at += buf.write(chain.time, at, 'utf8');
    buf[at++] = 0x22; // "
    buf[at++] = 0x2c; // ,
    at += sealed.head.copy(buf, at);
    at += prevKey.copy(buf, at);
    at += buf.write(chain.prev, at, 'utf8');
    buf[at++] = 0x22; // "
    buf[at++] = 0x2c; // ,
    at += sealed.body.copy(buf, at);
    if (sealed.tail !== '') at += buf.write(sealed.tail, at, 'utf8');
    buf[at++] = 0x7d; // }
    buf[at++] = 0x0a; // \n
    return buf.subarray(0, at);
  }
}

const lineEncoder = new RecordEncoder();

/** The line of a sealed entry at its place in the chain (no newline), keys in the order recordKeys gives. */
export function recordLine(chain: ChainFields, sealed: SealedEntry): string {
  const bytes = lineEncoder.encode(chain, sealed);
  return bytes.toString('utf8', 0, bytes.length - 1);
}

/** One record as one JSON line (no newline), keys in a fixed order whatever order the caller built the object in. */
export function serializeRecord(chain: ChainFields, entry: AuditEntry): string {
  return recordLine(chain, sealEntry(entry));
}
