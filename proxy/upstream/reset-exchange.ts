/** Runs the reset or the probe over an idle upstream socket: one write, frames read until the reply reader decides, bounded by a timeout. */
import type * as net from 'node:net';
import { MessageFramer } from '../protocol/framer.js';
import type { Frame } from '../protocol/framer.js';
import { ProtocolError } from '../protocol/protocol-error.js';
import { probeRequest, ProbeReplyReader, resetRequest, ResetReplyReader } from './reset.js';

/** How an exchange ended: the reader's outcome, or no decision (timeout, the socket closed or failed, malformed or trailing bytes). */
export type ExchangeResult<O> = { kind: 'reply'; outcome: O } | { kind: 'timeout' } | { kind: 'closed' } | { kind: 'malformed'; detail: string };

/** Largest reply message accepted during a reset or probe. */
const maxReplyMessageBytes = 64 * 1024;

/**
 * Writes `request` and feeds each reply frame to `reader` until it returns an outcome. The socket must be paused
 * with no 'data' listener; it is left that way. Bytes after the deciding frame make the result malformed (the
 * session must not be reused).
 */
export function runExchange<O>(socket: net.Socket, request: Buffer, reader: { push(frame: Frame): O | undefined }, timeoutMs: number): Promise<ExchangeResult<O>> {
  const framer = new MessageFramer({ maxMessageBytes: maxReplyMessageBytes });
  return new Promise((resolve) => {
    let isSettled = false;
    const settle = (result: ExchangeResult<O>): void => {
      if (isSettled) return;
      isSettled = true;
      clearTimeout(timer);
      socket.pause();
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      socket.removeListener('error', onError);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      try {
        framer.push(chunk);
        for (let frame = framer.next(); frame !== undefined; frame = framer.next()) {
          const outcome = reader.push(frame);
          if (outcome === undefined) continue;
          if (framer.bufferedBytes > 0) return settle({ kind: 'malformed', detail: 'bytes after the reply' });
          return settle({ kind: 'reply', outcome });
        }
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        settle({ kind: 'malformed', detail: err.message });
      }
    };
    const onClose = (): void => settle({ kind: 'closed' });
    const onError = (): void => settle({ kind: 'closed' });
    const timer = setTimeout(() => settle({ kind: 'timeout' }), timeoutMs);
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
    if (socket.destroyed || !socket.writable) return settle({ kind: 'closed' });
    socket.write(request);
    socket.resume();
  });
}

/** Why a reset did not return the session to the pool (a `reason` of rsproxy_upstream_discards_total). */
export type ResetDiscardReason = 'session_user' | 'temp_schema' | 'reset_error' | 'reset_timeout' | 'upstream_closed';

/** Resets a departed client's upstream session; resolves 'ok' or the discard reason. */
export async function resetSession(socket: net.Socket, openStatements: readonly Buffer[], loginUser: string, resetTimeoutMs: number): Promise<'ok' | ResetDiscardReason> {
  const result = await runExchange(socket, resetRequest(openStatements), new ResetReplyReader(openStatements.length, loginUser), resetTimeoutMs);
  switch (result.kind) {
    case 'reply':
      return result.outcome.result;
    case 'timeout':
      return 'reset_timeout';
    case 'closed':
      return 'upstream_closed';
    case 'malformed':
      return 'reset_error';
  }
}

/** Probes an idle upstream session with an empty query; resolves true when it answered as expected. */
export async function probeSession(socket: net.Socket, timeoutMs: number): Promise<boolean> {
  const result = await runExchange(socket, probeRequest, new ProbeReplyReader(), timeoutMs);
  return result.kind === 'reply' && result.outcome.result === 'ok';
}
