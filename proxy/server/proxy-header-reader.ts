/**
 * The PROXY protocol gate in front of a session (docs/design/surface.md §9): from a trusted balancer, read the
 * header off the raw socket before anything else; from anyone else, refuse a connection that opens with one.
 * Nothing is ever written back: a refused connection is just closed by the caller.
 */
import type * as net from 'node:net';
import { ProxyHeaderError, ProxyHeaderFramer, proxyV1Prefix, proxyV2Signature } from '../protocol/proxy-header.js';
import type { ProxyHeader, ProxyHeaderRejectReason } from '../protocol/proxy-header.js';

/** Why the gate closed a connection: a header problem, a header from an untrusted peer, no header in time, or the peer left mid-header. */
export type ProxyGateRejectReason = ProxyHeaderRejectReason | 'untrusted' | 'timeout' | 'closed';

/** Every ProxyGateRejectReason (the closed label set of rsproxy_proxy_protocol_rejected_total). */
export const proxyGateRejectReasons: readonly ProxyGateRejectReason[] = [
  'signature',
  'version',
  'command',
  'family',
  'length',
  'address',
  'format',
  'oversize',
  'untrusted',
  'timeout',
  'closed',
];

/** The gate's verdict on one connection. */
export type ProxyGateOutcome = { isAccepted: true; header?: ProxyHeader } | { isAccepted: false; reason: ProxyGateRejectReason };

/** What an in-progress gate can be told: stop now (server destroy). */
export interface ProxyGate {
  abort(): void;
}

/**
 * Watches `socket` until `decide` settles it, calling `done` exactly once. `decide` gets each chunk and
 * returns undefined to keep reading or an outcome plus the bytes to hand back to the stream.
 */
function watch(
  socket: net.Socket,
  timeoutMs: number,
  onTimeout: ProxyGateOutcome,
  decide: (chunk: Buffer) => { outcome: ProxyGateOutcome; unread: Buffer } | undefined,
  done: (outcome: ProxyGateOutcome) => void,
): ProxyGate {
  let isSettled = false;
  const onError = (): void => {};
  const onData = (chunk: Buffer): void => {
    const verdict = decide(chunk);
    if (verdict !== undefined) settle(verdict.outcome, verdict.unread);
  };
  const onGone = (): void => settle({ isAccepted: false, reason: 'closed' }, undefined);
  const timer = setTimeout(() => settle(onTimeout, undefined), timeoutMs);
  timer.unref();
  function settle(outcome: ProxyGateOutcome, unread: Buffer | undefined): void {
    if (isSettled) return;
    isSettled = true;
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onGone);
    socket.removeListener('close', onGone);
    // The session attaches its own 'data' listener synchronously in done(), so the stream's flow loop hands it these bytes first.
    if (outcome.isAccepted) {
      socket.removeListener('error', onError);
      if (unread !== undefined && unread.length > 0) socket.unshift(unread);
    }
    done(outcome);
  }
  socket.on('error', onError);
  socket.on('data', onData);
  socket.on('end', onGone);
  socket.on('close', onGone);
  return { abort: () => settle({ isAccepted: false, reason: 'closed' }, undefined) };
}

/** From a trusted peer: a complete, valid PROXY v1/v2 header must arrive within `timeoutMs`; the bytes after it stay on the socket. */
export function readProxyHeader(socket: net.Socket, timeoutMs: number, done: (outcome: ProxyGateOutcome) => void): ProxyGate {
  const framer = new ProxyHeaderFramer();
  return watch(
    socket,
    timeoutMs,
    { isAccepted: false, reason: 'timeout' },
    (chunk) => {
      try {
        const r = framer.push(chunk);
        return r === undefined ? undefined : { outcome: { isAccepted: true, header: r.header }, unread: r.rest };
      } catch (err) {
        return { outcome: { isAccepted: false, reason: err instanceof ProxyHeaderError ? err.reason : 'signature' }, unread: Buffer.alloc(0) };
      }
    },
    done,
  );
}

/**
 * From an untrusted peer: refuse a connection whose first byte opens a PROXY header ('P' or CR, neither of
 * which can start a PostgreSQL packet or a TLS record); anything else goes back on the socket untouched. A
 * silent client is let through at `timeoutMs`, so the session's own login timeout answers it as before.
 */
export function screenForProxyHeader(socket: net.Socket, timeoutMs: number, done: (outcome: ProxyGateOutcome) => void): ProxyGate {
  return watch(
    socket,
    timeoutMs,
    { isAccepted: true },
    (chunk) => {
      if (chunk.length === 0) return undefined;
      const isHeader = chunk[0] === proxyV1Prefix[0] || chunk[0] === proxyV2Signature[0];
      return { outcome: isHeader ? { isAccepted: false, reason: 'untrusted' } : { isAccepted: true }, unread: chunk };
    },
    done,
  );
}
