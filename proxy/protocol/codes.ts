/** Wire codes of the PostgreSQL protocol 3.0 that the client-facing side uses. */

/** Frontend (client → server) message type bytes. @see https://www.postgresql.org/docs/current/protocol-message-codes.html */
export const FrontendCode = {
  PasswordMessage: 0x70, // p
  Terminate: 0x58, // X
  Query: 0x51, // Q
  RedshiftDigestResponse: 0x64, // d (Redshift's reply to AuthenticationRedshiftDigest, R 13)
} as const;
export type FrontendCode = (typeof FrontendCode)[keyof typeof FrontendCode];

/** Backend (server → client) message type bytes. @see https://www.postgresql.org/docs/current/protocol-message-codes.html */
export const BackendCode = {
  Authentication: 0x52, // R
  ParameterStatus: 0x53, // S
  BackendKeyData: 0x4b, // K
  ReadyForQuery: 0x5a, // Z
  ErrorResponse: 0x45, // E
  NoticeResponse: 0x4e, // N
  NegotiateProtocolVersion: 0x76, // v
} as const;
export type BackendCode = (typeof BackendCode)[keyof typeof BackendCode];

/** Codes in the second Int32 of untyped pre-startup packets. @see https://www.postgresql.org/docs/current/protocol-message-formats.html */
export const StartupCode = {
  CancelRequest: 80877102, // 1234 << 16 | 5678
  SSLRequest: 80877103, // 1234 << 16 | 5679
  GSSENCRequest: 80877104, // 1234 << 16 | 5680
  Protocol30: 196608, // 3 << 16
} as const;
export type StartupCode = (typeof StartupCode)[keyof typeof StartupCode];

/** Single-byte answers to SSLRequest / GSSENCRequest. */
export const NegotiationAnswer = {
  Accept: 0x53, // S
  Refuse: 0x4e, // N
} as const;
export type NegotiationAnswer = (typeof NegotiationAnswer)[keyof typeof NegotiationAnswer];

/** First byte of a TLS handshake record (direct TLS, libpq ≥ 17 `sslnegotiation=direct`). */
export const TlsHandshakeByte = 0x16;

/** ErrorResponse field codes the proxy sends. @see https://www.postgresql.org/docs/current/protocol-error-fields.html */
export const ErrorField = {
  Severity: 0x53, // S
  SeverityNonLocalized: 0x56, // V
  Code: 0x43, // C
  Message: 0x4d, // M
  Hint: 0x48, // H
} as const;
export type ErrorField = (typeof ErrorField)[keyof typeof ErrorField];
