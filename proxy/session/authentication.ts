/** The client's password phase: one PasswordMessage after `R 3`, then the pipelined bytes held until the upstream login is done (docs/design/wire-protocol.md §6). */
import { sessionLimits } from '../config/limits.js';
import { authFailed, tooMuchDataBeforeLogin } from '../errors/proxy-error.js';
import { MessageFramer } from '../protocol/framer.js';
import { decodePasswordMessage, isPasswordMessage, isTerminate, passwordMessageCapBytes } from '../protocol/frontend.js';
import type { SessionEvent } from './state.js';

/** Most bytes a pipelining client may send after its PasswordMessage before the relay starts. */
export const maxHeldClientBytes = sessionLimits.maxHeldClientBytes;

/** What the password phase needs from the session that owns it. */
export interface PasswordHost {
  dispatch(event: SessionEvent): void;
  fail(err: unknown): void;
}

/** Frames the PasswordMessage, keeps the password until taken, and holds whole messages sent after it. */
export class PasswordPhase {
  private readonly host: PasswordHost;
  private readonly user: string;
  private passwordFramer: MessageFramer | undefined;
  private heldFramer: MessageFramer | undefined;
  private readonly held: Buffer[] = [];
  private password = '';

  constructor(host: PasswordHost, user: string, maxPasswordBytes: number) {
    this.host = host;
    this.user = user;
    this.passwordFramer = new MessageFramer({ maxMessageBytes: passwordMessageCapBytes(maxPasswordBytes) });
  }

  /** Feeds decrypted client bytes while awaiting the PasswordMessage. */
  feedPassword(chunk: Buffer): void {
    const framer = this.passwordFramer;
    if (framer === undefined) return;
    try {
      framer.push(chunk);
      const frame = framer.next();
      if (frame === undefined) return;
      if (isTerminate(frame)) return this.host.dispatch({ type: 'Terminate' });
      if (!isPasswordMessage(frame)) return this.host.dispatch({ type: 'OtherMessage' });
      const decoded = decodePasswordMessage(frame.body);
      if (!decoded.ok) throw authFailed(this.user, 'malformed');
      this.password = stripOneNewline(decoded.password);
      if (this.password === '') throw authFailed(this.user, 'malformed');
      this.host.dispatch({ type: 'PasswordMessage' });
      const rest = framer.takeLeftover();
      this.passwordFramer = undefined;
      if (rest.length > 0) this.feedHeld(rest);
    } catch (err) {
      this.host.fail(err);
    }
  }

  /** Feeds decrypted client bytes that arrive during authentication and upstream login. */
  feedHeld(chunk: Buffer): void {
    this.heldFramer ??= new MessageFramer({ maxMessageBytes: maxHeldClientBytes });
    const framer = this.heldFramer;
    try {
      framer.push(chunk);
      let total = framer.bufferedBytes;
      for (const b of this.held) total += b.length;
      if (total > maxHeldClientBytes) throw tooMuchDataBeforeLogin();
      for (let frame = framer.next(); frame !== undefined; frame = framer.next()) {
        if (isTerminate(frame)) return this.host.dispatch({ type: 'Terminate' });
        if (isPasswordMessage(frame)) return this.host.dispatch({ type: 'PasswordMessage' });
        this.held.push(frame.raw);
      }
    } catch (err) {
      this.host.fail(err);
    }
  }

  /** Returns the password once and forgets it. */
  takePassword(): string {
    const password = this.password;
    this.password = '';
    return password;
  }

  /** Returns every held byte (whole messages, then any partial one) in order and forgets them. */
  takeHeld(): Buffer {
    const parts = this.heldFramer === undefined ? this.held : [...this.held, this.heldFramer.takeLeftover()];
    const bytes = Buffer.concat(parts);
    this.held.length = 0;
    return bytes;
  }
}

/** Strips at most one trailing `\n` or `\r\n` (pasted tokens, docs/design/token.md §4 rule 3). */
export function stripOneNewline(password: string): string {
  if (password.endsWith('\r\n')) return password.slice(0, -2);
  if (password.endsWith('\n')) return password.slice(0, -1);
  return password;
}
