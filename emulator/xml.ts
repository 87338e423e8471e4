/** Tiny XML writer for the awsQuery/STS responses the emulator sends. */
import crypto from 'node:crypto';

/** Escapes text for an XML element body or attribute. */
export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

/** An XML tree node: text leaf, nested elements (in order), or omitted when undefined. */
export type XmlValue = string | number | XmlValue[] | { [name: string]: XmlValue | undefined };

function render(name: string, value: XmlValue): string {
  if (Array.isArray(value)) return `<${name}>${value.map((v) => renderChildren(v)).join('')}</${name}>`;
  if (typeof value === 'object') return `<${name}>${renderChildren(value)}</${name}>`;
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

function renderChildren(value: XmlValue): string {
  if (typeof value !== 'object' || Array.isArray(value)) return escapeXml(String(value));
  return Object.entries(value)
    .filter((e): e is [string, XmlValue] => e[1] !== undefined)
    .map(([k, v]) => render(k, v))
    .join('');
}

/** Renders `<Root xmlns="ns">children</Root>` with an XML declaration-free body, as AWS does. */
export function xmlDocument(root: string, namespace: string, children: { [name: string]: XmlValue | undefined }): string {
  return `<${root} xmlns="${escapeXml(namespace)}">${renderChildren(children)}</${root}>\n`;
}

/** The awsQuery/STS error document: `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`. */
export function xmlError(namespace: string, code: string, message: string, requestId: string, type: 'Sender' | 'Receiver' = 'Sender'): string {
  return xmlDocument('ErrorResponse', namespace, {
    Error: { Type: type, Code: code, Message: message },
    RequestId: requestId,
  });
}

/** XML namespaces of the emulated services. */
export const XmlNamespace = {
  sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
  redshift: 'http://redshift.amazonaws.com/doc/2012-12-01/',
} as const;
export type XmlNamespace = (typeof XmlNamespace)[keyof typeof XmlNamespace];

/** One HTTP answer built by a service handler; `outcome` is the counter label ('ok' or the error code). */
export interface Reply {
  status: number;
  contentType: string;
  body: string;
  outcome: string;
  headers?: Record<string, string>;
}

/** A random AWS-style request id (UUID). */
export function newRequestId(): string {
  return crypto.randomUUID();
}

/** Logger port of the emulator (pino-compatible subset). */
export interface EmulatorLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** ISO 8601 with whole seconds, as AWS prints awsQuery timestamps. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
