/** A loopback fake of an rsproxy for the tunnel's tests: the server side of its login (R 3, then R 0 and the post-login messages), then an echo. */
import * as net from 'node:net';
import { decodeStartupPacket } from '../proxy/protocol/frontend.js';
import type { StartupMessage } from '../proxy/protocol/frontend.js';
import { StartupFramer } from '../proxy/protocol/startup-framer.js';
import type { TunnelDialFn } from '../proxy/tunnel/tunnel-startup.js';
import { cstr, i32, typed } from './raw-wire.js';

/** AuthenticationOk. */
export const authOk = typed('R', i32(0));
/** What follows AuthenticationOk: ParameterStatus, BackendKeyData, ReadyForQuery. */
export const afterLogin = Buffer.concat([
  typed('S', Buffer.concat([cstr('server_version'), cstr('8.0.2')])),
  typed('K', Buffer.concat([i32(4242), i32(0x0badf00d)])),
  typed('Z', Buffer.from('I')),
]);

/** What the fake remote asks for after the startup: the cleartext password (an rsproxy), or another method. */
export type RemoteMode = 'rsproxy' | 'md5' | 'sasl' | 'error';

/** The fake and what it saw: startups, passwords, cancels; `dial` reaches it without TLS. */
export interface FakeRsproxy {
  startups: StartupMessage[];
  passwords: string[];
  cancels: Buffer[];
  dial: TunnelDialFn;
  close(): void;
}

/** A loopback fake of the remote (no TLS: the dial is injected), speaking the server side of an rsproxy login. */
export async function fakeRsproxy(mode: RemoteMode): Promise<FakeRsproxy> {
  const startups: StartupMessage[] = [];
  const passwords: string[] = [];
  const server = net.createServer((s) => {
    const framer = new StartupFramer({ maxStartupBytes: 10_000 });
    let state: 'startup' | 'password' | 'relay' = 'startup';
    s.on('error', () => {});
    s.on('data', (chunk: Buffer) => {
      if (state === 'relay') return void s.write(chunk); // echo
      if (state === 'password') {
        passwords.push(chunk.subarray(5, chunk.length - 1).toString('utf8'));
        state = 'relay';
        return void s.write(Buffer.concat([authOk, afterLogin]));
      }
      framer.push(chunk);
      const packet = framer.next();
      if (packet === undefined) return;
      startups.push(decodeStartupPacket(packet) as StartupMessage);
      state = 'password';
      if (mode === 'rsproxy') s.write(typed('R', i32(3)));
      else if (mode === 'md5') s.write(typed('R', Buffer.concat([i32(5), Buffer.from([1, 2, 3, 4])])));
      else if (mode === 'sasl') s.write(typed('R', Buffer.concat([i32(10), cstr('SCRAM-SHA-256'), Buffer.from([0])])));
      else s.end(typed('E', Buffer.concat([Buffer.from('SFATAL\0C53300\0Msorry, too many clients already\0'), Buffer.from([0])])));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    startups,
    passwords,
    cancels: [],
    dial: () =>
      new Promise((resolve, reject) => {
        const socket = net.connect({ host: '127.0.0.1', port }, () => {
          socket.pause();
          resolve({ isTls: false, socket });
        });
        socket.once('error', reject);
      }),
    close: () => server.close(),
  };
}
