/** Byte fixtures of query-phase messages (simple and extended protocol, COPY), written from the protocol docs, for unit tests. */

function typed(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const cstr = (s: string | Buffer): Buffer => Buffer.concat([typeof s === 'string' ? Buffer.from(s, 'utf8') : s, Buffer.from([0])]);
const int16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

/** Frontend (F) messages. */
export const fe = {
  query: (sql: string): Buffer => typed('Q', cstr(sql)),
  parse: (name: string | Buffer, sql = 'SELECT 1'): Buffer => typed('P', cstr(name), cstr(sql), int16(0)),
  bind: (portal = '', statement = ''): Buffer => typed('B', cstr(portal), cstr(statement), int16(0), int16(0), int16(0)),
  describe: (kind: 'S' | 'P' = 'P', name = ''): Buffer => typed('D', Buffer.from(kind), cstr(name)),
  execute: (portal = ''): Buffer => typed('E', cstr(portal), int32(0)),
  close: (kind: 'S' | 'P', name: string | Buffer): Buffer => typed('C', Buffer.from(kind), cstr(name)),
  sync: (): Buffer => typed('S'),
  flush: (): Buffer => typed('H'),
  functionCall: (): Buffer => typed('F', int32(1), int16(0), int16(0), int16(0)),
  copyData: (data: string): Buffer => typed('d', Buffer.from(data)),
  copyDone: (): Buffer => typed('c'),
  copyFail: (why = 'no'): Buffer => typed('f', cstr(why)),
  terminate: (): Buffer => typed('X'),
};

/** Backend (B) messages. */
export const be = {
  readyForQuery: (status: 'I' | 'T' | 'E' = 'I'): Buffer => typed('Z', Buffer.from(status)),
  commandComplete: (tag: string): Buffer => typed('C', cstr(tag)),
  emptyQueryResponse: (): Buffer => typed('I'),
  errorResponse: (sqlstate = '42601', message = 'syntax error'): Buffer =>
    typed('E', Buffer.from('S'), cstr('ERROR'), Buffer.from('C'), cstr(sqlstate), Buffer.from('M'), cstr(message), Buffer.from([0])),
  notice: (message = 'note'): Buffer => typed('N', Buffer.from('S'), cstr('NOTICE'), Buffer.from('M'), cstr(message), Buffer.from([0])),
  parameterStatus: (name: string, value: string): Buffer => typed('S', cstr(name), cstr(value)),
  parseComplete: (): Buffer => typed('1'),
  bindComplete: (): Buffer => typed('2'),
  closeComplete: (): Buffer => typed('3'),
  noData: (): Buffer => typed('n'),
  copyInResponse: (): Buffer => typed('G', Buffer.from([0]), int16(0)),
  copyOutResponse: (): Buffer => typed('H', Buffer.from([0]), int16(0)),
  copyBothResponse: (): Buffer => typed('W', Buffer.from([0]), int16(0)),
  copyData: (data: string): Buffer => typed('d', Buffer.from(data)),
  copyDone: (): Buffer => typed('c'),
  rowDescription: (names: readonly string[]): Buffer =>
    typed('T', int16(names.length), ...names.map((n) => Buffer.concat([cstr(n), int32(0), int16(0), int32(25), int16(-1), int32(-1), int16(0)]))),
  dataRow: (values: ReadonlyArray<string | null>): Buffer =>
    typed('D', int16(values.length), ...values.map((v) => (v === null ? int32(-1) : Buffer.concat([int32(Buffer.byteLength(v)), Buffer.from(v)])))),
};

/** Splits `bytes` into chunks at the given offsets (sorted, within bounds). */
export function splitAt(bytes: Buffer, offsets: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const at of offsets) {
    out.push(bytes.subarray(from, at));
    from = at;
  }
  out.push(bytes.subarray(from));
  return out;
}
