import { randomFillSync } from 'node:crypto';
import { WebSocket, type RawData } from 'ws';

/**
 * What the gateway's WebSocket hands its events to (the gateway's `WsClient`): known here only as
 * this interface, so that the socket class does not depend on the client built around it.
 */
export interface WsEvents {
  /** Set once a close frame is out or the socket is being dropped: nothing more is written. */
  closing: boolean;
  onMessage(data: RawData, isBinary: boolean): void;
  onPong(payload: Buffer): void;
  /** ws's 'error' (a protocol error from the peer); 'close' follows. */
  onError(err: Error): void;
  onClosed(code: number): void;
}

/** Random bytes for ping payloads, drawn 4 at a time (never all zero). */
const pingPool = Buffer.alloc(4096);
let pingPoolAt = pingPool.length;
export function pingPayload(): Buffer {
  if (pingPoolAt + 4 > pingPool.length) {
    randomFillSync(pingPool);
    pingPoolAt = 0;
  }
  const out = Buffer.from(pingPool.subarray(pingPoolAt, (pingPoolAt += 4)));
  if (out.readUInt32BE(0) === 0) out[3] = 1;
  return out;
}

/**
 * The WebSocket class the gateway's server creates (ws's documented `WebSocket` option): it carries
 * its client and hands it the events ws emits, so that a connection holds no listeners at all —
 * neither closures nor an `_events` dictionary, which costs ~180 bytes empty and grows with every
 * event name (idle memory per connection is a product target). Any listener added by others still
 * gets its events.
 */
export class GatewayWebSocket extends WebSocket {
  client: WsEvents | undefined;

  constructor(...args: unknown[]) {
    super(...(args as ConstructorParameters<typeof WebSocket>));
    // EventEmitter starts every instance with an empty dictionary-mode `_events` object (~180
    // bytes); it creates one itself when the first listener is added, so none is needed until then.
    (this as unknown as { _events: object | undefined })._events = undefined;
  }

  /**
   * Every close frame ws sends goes through here, its own (a protocol error, the peer's close)
   * as well as the gateway's: from then on nothing may be written, and the client knows it
   * without reading the socket's state per write.
   */
  override close(code?: number, data?: string | Buffer): void {
    if (this.client !== undefined) this.client.closing = true;
    super.close(code, data);
  }

  override terminate(): void {
    if (this.client !== undefined) this.client.closing = true;
    super.terminate();
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const client = this.client;
    switch (event) {
      case 'message':
        client?.onMessage(args[0] as RawData, args[1] as boolean);
        break;
      case 'pong':
        client?.onPong(args[0] as Buffer);
        break;
      case 'error':
        // Handled here whatever the state, so that an error never throws for want of a listener.
        client?.onError(args[0] as Error);
        if (this.listenerCount('error') === 0) return true;
        break;
      case 'close':
        client?.onClosed(args[0] as number);
        break;
    }
    return super.emit(event, ...args);
  }
}
