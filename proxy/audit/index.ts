/** The audit trail's public surface: the log, its records, statement capture and text, verification, metrics. */
export { AuditLog, AuditLogCorruptError, type AuditFailurePolicy, type AuditLogger, type AuditLogOptions, type AuditWriteResult } from './audit-log.js';
export { nodeAuditFs, type AuditFile, type AuditFs } from './audit-file.js';
export { createAuditMetrics, silentAuditObserver, type AuditObserver } from './audit-metrics.js';
export {
  auditEvents,
  genesisPrev,
  type AdminTerminateEntry,
  type AuditEntry,
  type AuditEvent,
  type AuditRecord,
  type ConnectionFields,
  type LoginDeniedEntry,
  type LoginEntry,
  type NullableSessionFields,
  type RevokedEntry,
  type SessionEndEntry,
  type SessionFields,
  type StatementEntry,
} from './record.js';
export { recordLine, sealEntry, type SealedEntry } from './record-encoding.js';
export { capturedStatement, statementRecords, StatementMessageCode, type CapturedStatement } from './statement-capture.js';
export { fingerprint, maskPasswords, statementRecordText, type StatementMode } from './fingerprint.js';
export { verifyAuditFiles, type VerifyResult } from './verify.js';
