import type { ClientCommand, ServerMessage, StreamPosition } from '@megaphone/protocol';
import { Backoff, type BackoffOptions } from './backoff.js';
import { realClock, type Clock } from './clock.js';
import { Retries } from './retries.js';
import { closeAction } from './close-policy.js';
import { Emitter } from './emitter.js';
import { IdleWatch } from './idle-watch.js';
import type { ClientEvents, ConnectionState, StateChange } from './events.js';
import { Subscription, type SubscribeOptions } from './subscription.js';
import { TokenKeeper, type TokenOptions } from './token-keeper.js';
import { OPEN, frameText, type WebSocketConstructor, type WebSocketLike } from './websocket.js';

export interface MegaphoneClientOptions extends TokenOptions {
  /** `ws(s)://host/ws`. */
  url: string;
  /** Defaults to `globalThis.WebSocket` (browsers, Node ≥ 22); pass `ws`'s class in older Node. */
  WebSocket?: WebSocketConstructor;
  backoff?: BackoffOptions;
  /**
   * Silence on the connection for this long (default: twice the server's `heartbeatMs`) sends a
   * ping; as long again without a byte drops the connection and reconnects. Browsers cannot see
   * WebSocket ping frames, so a half-open TCP connection is only noticed this way.
   */
  idleTimeoutMs?: number;
  /** For tests: the timers of reconnects, pings and token refresh (clock.ts). Defaults to the real ones. */
  clock?: Clock;
}

/** Refused subscribe commands worth retrying rather than giving up on. */
const RETRYABLE_ERRORS = new Set(['rate_limited', 'history_unavailable', 'internal']);

/**
 * A Megaphone WebSocket client: subscriptions that survive reconnects, resumed with `since` from
 * the last position the application saw, with every hole reported (SPEC §3 guarantees).
 */
export class MegaphoneClient extends Emitter<ClientEvents> {
  private readonly url: string;
  private readonly WebSocketCtor: WebSocketConstructor;
  private readonly backoff: Backoff;
  private readonly idleTimeoutOverride: number | undefined;
  private readonly subs = new Map<string, Subscription>();
  private readonly byId = new Map<number, Subscription>();
  private socket: WebSocketLike | undefined;
  private currentState: ConnectionState = 'idle';
  private currentNode: string | undefined;
  private nextId = 1;
  private reconnectTimer: unknown;
  /** Subscribes a busy server refused, waiting to be sent again. */
  private readonly retries: Retries<Subscription>;
  private readonly clock: Clock;
  private readonly idle: IdleWatch;
  private wanted = false;
  /** `presence` commands waiting for their reply, by command id. */
  private readonly presenceWaits = new Map<number, { resolve(n: number): void; reject(err: Error): void }>();
  private readonly tokens: TokenKeeper;
  private authId = -1; // of the last `auth` sent

  constructor(options: MegaphoneClientOptions) {
    super();
    this.url = options.url;
    const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (ctor === undefined) throw new Error('no WebSocket implementation: pass one as options.WebSocket');
    this.WebSocketCtor = ctor;
    this.backoff = new Backoff(options.backoff);
    this.idleTimeoutOverride = options.idleTimeoutMs;
    this.clock = options.clock ?? realClock;
    this.retries = new Retries(this.clock);
    this.idle = new IdleWatch(this.clock, () => this.send({ op: 'ping', id: this.nextId++ }), () => this.dropDeadSocket());
    this.tokens = new TokenKeeper(options, this.clock, () => this.refreshToken());
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** The gateway node this client is connected to (from `welcome`). */
  get node(): string | undefined {
    return this.currentNode;
  }

  /** The last position the application saw on a channel. */
  position(channel: string): StreamPosition | undefined {
    return this.subs.get(channel)?.lastPosition;
  }

  /** Opens the connection (also done by the first `subscribe`). Calling it again after `closed` reconnects. */
  connect(): void {
    this.wanted = true;
    if (this.socket !== undefined || this.reconnectTimer !== undefined) return;
    this.backoff.reset();
    this.open('connecting');
  }

  /**
   * Skips the wait before the next reconnect attempt (the browser came back online, the user asked).
   * Does nothing unless a reconnect is scheduled.
   */
  reconnectNow(): void {
    if (this.reconnectTimer === undefined) return;
    this.clearReconnect();
    this.open('reconnecting');
  }

  /** Sends a fresh token from `getToken` now (done by itself before the token expires). */
  refreshToken(): void {
    if (this.socket !== undefined && this.isOpen() && this.tokens.enabled) this.authenticate(this.socket, false);
  }

  /** Closes the connection for good; subscriptions are kept and renewed by a later `connect()`. */
  close(): void {
    this.wanted = false;
    this.clearReconnect();
    const socket = this.socket;
    if (socket !== undefined) {
      this.detach(socket);
      try {
        socket.close(1000, 'client closed');
      } catch {
        // already closing
      }
    }
    this.setState({ state: 'closed' });
  }

  /**
   * Subscribes to a channel; returns the function that unsubscribes. One subscription per channel
   * per client: subscribing again to the same channel throws.
   */
  subscribe(channel: string, options: SubscribeOptions): () => void {
    if (this.subs.has(channel)) throw new Error(`already subscribed to ${channel}`);
    const sub = new Subscription(channel, options, {
      gap: (g) => this.emit('gap', g),
      anomaly: (a) => this.emit('anomaly', a),
    });
    this.subs.set(channel, sub);
    if (this.isOpen()) this.sendSubscribe(sub);
    else if (this.currentState === 'idle') this.connect();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (this.subs.get(channel) !== sub) return;
      this.subs.delete(channel);
      this.byId.delete(sub.commandId);
      this.retries.cancel(sub);
      if (this.isOpen()) this.send({ op: 'unsubscribe', id: this.nextId++, channel });
    };
  }

  /**
   * How many subscribers a channel has across the cluster (every gateway's count as last reported,
   * at most `PRESENCE_INTERVAL_MS` old). Rejects when not connected, when the server refuses (a
   * channel this client may not read) or when the connection closes first.
   */
  presence(channel: string): Promise<number> {
    if (!this.isOpen()) return Promise.reject(new Error('not connected'));
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      this.presenceWaits.set(id, { resolve, reject });
      this.send({ op: 'presence', id, channel });
    });
  }

  private failPresence(why: string): void {
    for (const w of this.presenceWaits.values()) w.reject(new Error(why));
    this.presenceWaits.clear();
  }

  private isOpen(): boolean {
    return this.socket !== undefined && this.socket.readyState === OPEN;
  }

  private open(state: 'connecting' | 'reconnecting'): void {
    this.reconnectTimer = undefined;
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketCtor(this.url);
    } catch (err) {
      // An invalid URL throws synchronously; retrying will not fix it.
      this.emit('error', { kind: 'fatal', message: `cannot open ${this.url}: ${String(err)}` });
      this.setState({ state: 'closed' });
      return;
    }
    this.socket = socket;
    this.setState({ state, attempt: this.backoff.attempts });
    socket.onopen = () => {
      if (this.tokens.enabled) this.authenticate(socket, true);
      else for (const sub of this.subs.values()) this.sendSubscribe(sub);
    };
    socket.onmessage = (ev) => {
      this.idle.received();
      this.onFrame(frameText(ev.data));
    };
    socket.onclose = (ev) => this.onClosed(socket, ev.code, ev.reason);
    socket.onerror = () => {
      // A close event always follows; the decision is taken there.
    };
  }

  private onFrame(frame: string): void {
    for (const line of frame.split('\n')) {
      if (line.length === 0) continue;
      let msg: ServerMessage;
      try {
        msg = JSON.parse(line) as ServerMessage;
      } catch {
        this.emit('error', { kind: 'protocol', message: `unparseable server message: ${line.slice(0, 200)}` });
        continue;
      }
      this.dispatch(msg);
    }
  }

  private dispatch(msg: ServerMessage): void {
    switch (msg.op) {
      case 'welcome':
        this.currentNode = msg.node;
        this.backoff.reset();
        this.idle.start(this.idleTimeoutOverride ?? Math.max(0, msg.heartbeatMs * 2));
        this.emit('welcome', { node: msg.node, session: msg.session, heartbeatMs: msg.heartbeatMs });
        this.setState({ state: 'open', node: msg.node });
        return;
      case 'authed':
        if (msg.id !== this.authId) return;
        this.tokens.authed(msg.expiresAt);
        this.emit('authed', { sub: msg.sub, expiresAt: msg.expiresAt });
        return;
      case 'subscribed': {
        const sub = this.byId.get(msg.id);
        if (sub !== undefined && sub.commandId === msg.id && this.subs.get(sub.channel) === sub) sub.onSubscribed(msg);
        return;
      }
      case 'message': {
        const sub = this.subs.get(msg.channel);
        if (sub !== undefined) sub.onMessage(msg);
        return;
      }
      case 'gap':
        this.subs.get(msg.channel)?.onGapMessage(msg);
        return;
      case 'unsubscribed': {
        if (msg.id !== undefined) return; // our own unsubscribe, already forgotten
        const sub = this.subs.get(msg.channel);
        if (sub === undefined) return;
        sub.live = false;
        sub.options.onUnsubscribed?.(msg.reason ?? 'unknown');
        return;
      }
      case 'presence': {
        const wait = this.presenceWaits.get(msg.id);
        this.presenceWaits.delete(msg.id);
        wait?.resolve(msg.subscribers);
        return;
      }
      case 'error': {
        if (msg.id !== undefined && msg.id === this.authId) {
          this.emit('error', { kind: 'unauthorized', code: msg.code, message: msg.message });
          return;
        }
        const waiting = msg.id === undefined ? undefined : this.presenceWaits.get(msg.id);
        if (waiting !== undefined) {
          this.presenceWaits.delete(msg.id!);
          waiting.reject(new Error(`${msg.code}: ${msg.message}`));
          return;
        }
        const sub = msg.id === undefined ? undefined : this.byId.get(msg.id);
        if (sub === undefined || this.subs.get(sub.channel) !== sub) {
          this.emit('error', { kind: 'protocol', code: msg.code, message: msg.message });
          return;
        }
        this.byId.delete(sub.commandId);
        if (RETRYABLE_ERRORS.has(msg.code)) {
          // A busy server's hint is a floor; the jitter spreads the clients it refused at once.
          const floor = msg.retryAfterMs ?? 500;
          this.retries.arm(sub, floor + Math.random() * Math.max(1500, floor / 2), () => {
            if (this.subs.get(sub.channel) === sub && !sub.live && this.isOpen()) this.sendSubscribe(sub);
          });
        } else {
          this.subs.delete(sub.channel);
        }
        sub.options.onError?.({ code: msg.code, message: msg.message });
        this.emit('error', { kind: 'subscribe', channel: sub.channel, code: msg.code, message: msg.message });
        return;
      }
      case 'pong':
        return;
      default:
        this.emit('anomaly', { channel: '', kind: 'unexpected', message: `unknown op ${(msg as { op?: unknown }).op}` });
    }
  }

  private sendSubscribe(sub: Subscription): void {
    this.byId.delete(sub.commandId);
    const cmd = sub.command(this.nextId++);
    this.byId.set(cmd.id, sub);
    this.send(cmd);
  }

  /** `auth`, then (opening) the subscribes at once: the gateway runs them after verifying the token. */
  private authenticate(socket: WebSocketLike, opening: boolean): void {
    this.tokens.fetch().then(
      (token) => {
        if (socket !== this.socket) return;
        if (token !== undefined) this.sendAuth(token);
        if (opening) for (const sub of this.subs.values()) this.sendSubscribe(sub);
      },
      (err: unknown) => {
        if (socket !== this.socket) return;
        this.emit('error', { kind: 'unauthorized', message: `getToken failed: ${String(err)}` });
        if (opening) this.dropSocket(socket, 1000, 'no token');
      },
    );
  }

  private sendAuth(token: string): void {
    this.authId = this.nextId++;
    this.send({ op: 'auth', id: this.authId, token });
  }

  private send(cmd: ClientCommand): void {
    this.socket?.send(JSON.stringify(cmd));
  }

  private onClosed(socket: WebSocketLike, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.detach(socket);
    this.failPresence(`connection closed (${code})`);
    for (const sub of this.subs.values()) sub.live = false;
    this.byId.clear();
    if (!this.wanted) {
      this.setState({ state: 'closed', closeCode: code, closeReason: reason });
      return;
    }
    const action = closeAction(code, reason);
    if (action.kind === 'fatal') {
      this.wanted = false;
      this.emit('error', { kind: 'fatal', code, message: `closed by the server (${code}${reason ? `: ${reason}` : ''}); not reconnecting` });
      this.setState({ state: 'closed', closeCode: code, closeReason: reason });
      return;
    }
    if (action.kind === 'disconnected') {
      this.wanted = false;
      this.emit('error', { kind: 'disconnected', code, message: 'disconnected by an operator (4403); not reconnecting' });
      this.setState({ state: 'closed', closeCode: code, closeReason: reason });
      return;
    }
    // After a 4401, once more with a fresh token from getToken (below) before giving up.
    if (action.kind === 'unauthorized' && !this.tokens.retryAfterUnauthorized()) {
      this.wanted = false;
      this.emit('error', { kind: 'unauthorized', code, message: 'unauthorized: get a new token, then connect()' });
      this.setState({ state: 'closed', closeCode: code, closeReason: reason });
      return;
    }
    const hint = action.kind === 'reconnect' ? action.retryAfterMs : undefined;
    const delayMs = hint === undefined ? this.backoff.next() : this.backoff.afterHint(hint);
    this.reconnectTimer = this.clock.setTimeout(() => this.open('reconnecting'), delayMs);
    this.setState({ state: 'reconnecting', delayMs, attempt: this.backoff.attempts, closeCode: code, closeReason: reason });
  }

  /** Forgets a socket: no event of it reaches the state machine any more. */
  private detach(socket: WebSocketLike): void {
    this.retries.cancelAll();
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = () => {};
    if (this.socket === socket) this.socket = undefined;
    this.currentNode = undefined;
    this.idle.stop();
    this.tokens.stop();
  }

  /** The connection is dead without the OS noticing: a close handshake would never complete. */
  private dropDeadSocket(): void {
    if (this.socket !== undefined) this.dropSocket(this.socket, 4001, 'client idle timeout');
  }

  /** Gives a socket up now and reconnects as after any close (with backoff). */
  private dropSocket(socket: WebSocketLike, code: number, reason: string): void {
    try {
      socket.close(code, reason);
    } catch {
      // already closing
    }
    this.onClosed(socket, code, reason);
  }

  private clearReconnect(): void {
    if (this.reconnectTimer !== undefined) this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  private setState(change: StateChange): void {
    this.currentState = change.state;
    this.emit('state', change);
  }
}
