/** The relay's client → upstream direction through the statement gate (audit.statements on). */
import type { RelayLink } from './relay-options.js';
import type { StatementGate } from './statement-gate.js';

/** Binds the gate to the relay's sockets and attaches the client's 'data' and the upstream's 'drain' listeners; forwarded bytes are tracked as they leave the gate. */
export function attachGatedClient(gate: StatementGate, link: RelayLink): void {
  const { client, upstream } = link;
  gate.bind({
    forward: (bytes) => {
      link.noteToUpstream(bytes);
      return upstream.write(bytes);
    },
    pauseClient: () => client.pause(),
    resumeClient: () => client.resume(),
    isOpen: () => !upstream.destroyed && !upstream.writableEnded && !link.isClosing(),
  });
  client.on('data', (chunk: Buffer) => {
    link.countFromClient(chunk.length);
    if (upstream.destroyed || link.isClosing()) return;
    gate.feed(chunk);
    link.afterChunk();
  });
  upstream.on('drain', () => gate.onUpstreamDrain());
}
