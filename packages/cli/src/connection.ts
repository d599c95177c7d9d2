import WebSocket from 'ws';
import { MegaphoneClient, type WebSocketConstructor } from '@megaphone/client';
import type { Endpoints } from './config.js';
import type { Terminal } from './terminal.js';

/** `ws`'s WebSocket with a bound on the opening handshake. */
class BoundedWebSocket extends WebSocket {
  constructor(url: string) {
    super(url, { handshakeTimeout: 10_000 });
  }
}

export interface LiveClient {
  client: MegaphoneClient;
  /** Resolves with a message when the client gave up for good (1008/1009 close, 4401, …). */
  failed: Promise<string>;
}

/**
 * A client SDK instance for a command: connection state shown as a status line on stderr (only on
 * a TTY), errors that end the connection for good turned into `failed`.
 */
export function openClient(endpoints: Endpoints, term: Terminal): LiveClient {
  // The SDK sends the token in its `auth` command on every connection (SPEC §10).
  const client = new MegaphoneClient({
    url: endpoints.gateway,
    WebSocket: BoundedWebSocket,
    ...(endpoints.token === undefined ? {} : { token: endpoints.token }),
  });
  let opened = false;
  let warned = false;
  client.on('state', (s) => {
    // Off a terminal there is no status line, but a first connection that fails is said once, so
    // a script pointed at the wrong address does not wait in silence.
    if (s.state === 'reconnecting' && !opened && !warned && !term.interactiveErr) {
      warned = true;
      term.err(`megaphone: cannot connect to ${endpoints.gateway}${s.closeCode === undefined ? '' : ` (closed ${s.closeCode})`}; retrying until it answers (--gateway sets the address)`);
    }
    if (s.state === 'connecting') term.status(`connecting to ${endpoints.gateway}…`);
    else if (s.state === 'reconnecting' && s.delayMs !== undefined) {
      const why = s.closeCode === undefined ? '' : ` (closed ${s.closeCode}${s.closeReason ? `: ${s.closeReason}` : ''})`;
      const what = opened ? 'connection lost' : `cannot connect to ${endpoints.gateway}`;
      term.status(`${what}${why}; retrying in ${(s.delayMs / 1000).toFixed(1)}s (attempt ${s.attempt ?? 1})…`);
    } else if (s.state === 'reconnecting') term.status(`reconnecting to ${endpoints.gateway}…`);
    else if (s.state === 'open') {
      opened = true;
      term.clearStatus();
    }
  });
  const failed = new Promise<string>((resolve) => {
    client.on('error', (e) => {
      // A refused subscribe and an unparseable frame leave the connection open; every other kind
      // (fatal close, unauthorized, disconnected by an operator, …) means the client stopped for good.
      if (e.kind === 'subscribe' || e.kind === 'protocol') return;
      resolve(e.kind === 'unauthorized' ? `the gateway refused the token (4401): pass a valid one with --token or MEGAPHONE_TOKEN` : e.message);
    });
  });
  return { client, failed };
}
