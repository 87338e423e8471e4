/** ProtocolError: malformed or oversize wire input; the session answers it with 08P01. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code = 'PROXY_PROTOCOL_VIOLATION';
}
