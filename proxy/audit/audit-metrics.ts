/** The audit trail's Prometheus counters on an injected prom-client Registry. */
import { Counter, type Registry } from 'prom-client';
import { auditEvents, type AuditEvent } from './record.js';

/** What the audit log reports; createAuditMetrics implements it. Must never throw. */
export interface AuditObserver {
  /** A record reached the file. */
  recordWritten(event: AuditEvent): void;
  /** A record could not be written. */
  writeFailed(event: AuditEvent): void;
}

/** An observer that drops everything. */
export const silentAuditObserver: AuditObserver = { recordWritten() {}, writeFailed() {} };

/** Registers rsproxy_audit_records_total{event} and rsproxy_audit_write_failures_total on `registry`. */
export function createAuditMetrics(registry: Registry): AuditObserver {
  const records = new Counter({
    name: 'rsproxy_audit_records_total',
    help: 'Audit records written, by event.',
    labelNames: ['event'] as const,
    registers: [registry],
  });
  const failures = new Counter({
    name: 'rsproxy_audit_write_failures_total',
    help: 'Audit records that could not be written.',
    registers: [registry],
  });
  // One child per event, made once: a statement record is counted per query.
  const byEvent = new Map(auditEvents.map((event) => [event, records.labels({ event })]));
  for (const child of byEvent.values()) child.inc(0);
  failures.inc(0);
  return {
    recordWritten: (event) => (byEvent.get(event) ?? records.labels({ event: 'other' })).inc(),
    writeFailed: () => failures.inc(),
  };
}
