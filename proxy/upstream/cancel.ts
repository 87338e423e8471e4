/** Forwards a CancelRequest on a new connection: to the upstream (docs/design/wire-protocol.md §12), to a peer replica (docs/design/surface.md §9), or to the proxy (`rsproxy tunnel`). */
import type { Logger } from '../../auth/types.js';
import { silentLogger } from '../../auth/types.js';
import { cancelRequest } from '../protocol/upstream.js';
import { dialUpstream } from './dial.js';
import type { DialOptions, DialTarget } from './dial.js';

/** How a cancel connection is dialed besides its target. */
export type CancelDialOptions = Pick<DialOptions, 'allowPlaintext' | 'preamble' | 'localAddress'>;

/** Sends the 16-byte CancelRequest over TLS per the target's mode (plaintext if the upstream answers 'N'), waits for EOF (bounded), closes. */
export async function sendUpstreamCancel(
  target: DialTarget,
  pid: number,
  key: Buffer,
  timeoutMs = 5000,
  logger: Logger = silentLogger,
): Promise<void> {
  await sendCancelPacket(target, cancelRequest(pid, key), { timeoutMs, logger, allowPlaintext: true });
}

/** Dials `target` (SSLRequest, TLS by its mode, after `dial.preamble` if any), writes the CancelRequest, waits for EOF (bounded), closes. */
export async function sendCancelRequest(target: DialTarget, pid: number, key: Buffer, timeoutMs: number, logger: Logger, dial: CancelDialOptions): Promise<void> {
  await sendCancelPacket(target, cancelRequest(pid, key), { timeoutMs, logger, ...dial });
}

/** Sends a whole CancelRequest packet as given (any key length) on a new connection, waits for EOF (bounded), closes. */
export async function sendCancelPacket(target: DialTarget, packet: Buffer, opts: { timeoutMs: number; logger: Logger } & CancelDialOptions): Promise<void> {
  const { timeoutMs, logger, ...dial } = opts;
  const deadlineMs = Date.now() + timeoutMs;
  const { socket, isTls } = await dialUpstream(target, { deadlineMs, connectTimeoutMs: timeoutMs, logger, ...dial });
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    // The server answers nothing; it closes once the cancel is processed. Waiting for EOF is best-effort.
    const timer = setTimeout(done, Math.max(0, deadlineMs - Date.now()));
    socket.on('data', () => {});
    socket.once('end', done);
    socket.once('close', done);
    socket.on('error', (err) => {
      logger.debug({ event: 'upstream_cancel_error', err: err.message }, 'upstream cancel connection error');
      done();
    });
    socket.write(packet);
    socket.resume();
  });
  logger.debug({ event: 'upstream_cancel_sent', isTls }, 'upstream cancel sent');
}
