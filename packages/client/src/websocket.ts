/**
 * The part of the WebSocket API the client uses, satisfied both by the browser's `WebSocket` and by
 * the `ws` package, so the SDK runs in either without importing a transport.
 */

// Handlers are declared with method syntax so their parameters are checked bivariantly: the DOM's
// `(ev: MessageEvent) => any` and ws's `(ev: WebSocket.MessageEvent) => void` both fit.
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

export interface WebSocketLike {
  readonly readyState: number;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `WebSocket.OPEN`, spelled out so that no constructor is needed to read it. */
export const OPEN = 1;

/** Text frames arrive as strings in browsers and in ws's event API; anything else is decoded as UTF-8. */
export function frameText(data: unknown): string {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new TextDecoder().decode(data);
  if (ArrayBuffer.isView(data)) return new TextDecoder().decode(data);
  return String(data);
}
