import type { Socket } from 'node:net';
import type { RawData } from 'ws';
import { readAccess, type Patterns, type Principal, type TokenVerifier } from '@megaphone/auth';
import type { Framing, Hub, HubConnection, Sink } from '@megaphone/hub';
import { CloseCode, ErrorCode, Reason, closeReason, parseClientFrame, type AuthCommand, type ClientCommand, type ErrorMessage, type ParseLimits, type SubscribeCommand } from '@megaphone/protocol';
import type { Logger } from '@megaphone/runtime';
import type { ClientConnection } from '../connections/connections.js';
import type { ExpiryEntry } from '../connections/expiry-queue.js';
import type { GatewayMetrics } from '../metrics.js';
import { CommandRateLimiter } from '../connections/rate-limit.js';
import { BUSY, directWrites, QUEUED, WROTE, type DirectTarget, type DirectWriteOwner } from './direct-write.js';
import { frameHeader, textFrame, wsFraming } from './ws-frame.js';
import { pingPayload, type GatewayWebSocket, type WsEvents } from './ws-socket.js';

/** What every WebSocket client of one gateway shares (one object, not one per connection). */
export interface WsShared {
  hub: Hub;
  metrics: GatewayMetrics;
  logger: Logger;
  node: string;
  heartbeatMs: number;
  parseLimits: ParseLimits;
  maxCommandsPerSecond: number;
  /** Subscribes per connection per minute (burst of the same size). */
  maxChannelsPerMinute: number;
  verifier: TokenVerifier;
  /** AUTH_PUBLIC_CHANNELS (everything when no key is configured). */
  publicChannels: Patterns;
  /** A token was accepted (or replaced): its deadline moves in the expiry queue. */
  onToken(client: WsClient, validUntil: number): void;
  onClose(client: WsClient): void;
  /** Cluster-wide subscribers of a channel (ClusterPresence). */
  presence(channel: string): number;
  /**
   * Whether this client may read a channel: `presence` answers only for those (the same check as
   * `subscribe`: AUTH_PUBLIC_CHANNELS and the token's `channels` claim).
   */
  canRead(client: WsClient, channel: string): boolean;
}

/** Commands held while an `auth` is verified, at most; beyond it they are refused as rate limited. */
const MAX_WAITING_COMMANDS = 32;

/** A peer that does not answer a close frame is dropped after this long. */
const CLOSE_GRACE_MS = 5000;

/**
 * One WebSocket client: turns frames into hub commands and is the hub's sink for this connection.
 * Knows nothing of channels or queues; the hub does.
 */
export class WsClient implements ClientConnection, Sink, WsEvents, DirectWriteOwner {
  readonly conn: HubConnection;
  /**
   * The payload of the ping waiting for its pong (0: none). A pong counts only when it echoes it,
   * and a client learns it only by reading the ping, which is queued behind everything sent before:
   * a client that stops reading is closed by the heartbeat whatever it sends.
   */
  private awaitedPong = 0;
  readonly connectedAt = Date.now();
  sub: string | null = null;
  /**
   * A close frame is out (sent by this client or by ws itself) or the socket is being dropped:
   * nothing more is written. (Writes that race the peer ending the socket go to an ended socket,
   * whose error ws absorbs.)
   */
  closing = false;
  /** The code this side closed with: a peer that never answers shows up as 1006 otherwise. */
  private closeCode: number | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  /** A one-off 'drain' listener is on the socket (see `write`). */
  private drainArmed = false;
  /** Set when frames may go to the socket's handle directly (a plain TCP socket; ./direct-write.ts). */
  private readonly directHandle: DirectTarget['handle'] | undefined;
  private readonly directState: DirectTarget['state'] | undefined;
  /** Bytes of a direct write the kernel did not take at once, until libuv has written them. */
  private directQueued = 0;
  private readonly limiter: CommandRateLimiter;
  expiry: ExpiryEntry<ClientConnection> | undefined;
  /** Commands that arrived while an `auth` was being verified: they run after it, in order. */
  private waiting: ClientCommand[] | undefined;

  constructor(
    private readonly ws: GatewayWebSocket,
    /** The socket ws writes to (from the upgrade): publications are written to it directly. */
    private readonly socket: Socket,
    readonly session: string,
    readonly shared: WsShared,
    readonly address: string,
    /** From `Authorization` on the upgrade, then from `auth` commands. */
    public principal: Principal | undefined,
  ) {
    const target = directWrites?.target(socket);
    this.directHandle = target?.handle;
    this.directState = target?.state;
    this.limiter = new CommandRateLimiter(shared.maxCommandsPerSecond, Date.now, shared.maxChannelsPerMinute);
    if (principal !== undefined) this.sub = principal.sub;
    this.conn = shared.hub.connect(this);
    ws.client = this;
    this.conn.send({ op: 'welcome', node: shared.node, session, heartbeatMs: shared.heartbeatMs });
  }

  get transport(): 'ws' {
    return 'ws';
  }

  // ---- Sink (called by the hub) ---------------------------------------------------------------

  /** JSON lines (a getter: no field per connection). */
  get framing(): Framing {
    return wsFraming;
  }

  /** The hub's chunk (UTF-8 JSON lines) as one text frame, framed once for all its subscribers. */
  write(chunk: Buffer): void {
    // After a close frame nothing may follow (ws drops its own sends in that state too).
    if (this.closing) return;
    const frame = textFrame(chunk);
    let flowing: boolean;
    if (frame !== undefined) {
      if (this.directHandle !== undefined && this.directQueued === 0) {
        const result = directWrites!.write(this.directHandle, this.directState!, this.socket, frame, this);
        if (result === WROTE) return;
        if (result === QUEUED) {
          this.directQueued = frame.length;
          return;
        }
        // FAILED destroyed the socket (ws closes the client); BUSY: Node's stream holds data.
        if (result !== BUSY) return;
      }
      flowing = this.socket.write(frame);
    } else {
      this.socket.cork();
      this.socket.write(frameHeader(chunk.length));
      flowing = this.socket.write(chunk);
      this.socket.uncork();
    }
    if (!flowing) this.armDrain();
  }

  /**
   * The socket's 'drain' (the kernel took the backlog) tells the hub to resume a lagging
   * connection. It is listened for only once a write found the socket backed up — the only case
   * in which the socket emits it — so that an idle or keeping-up connection carries no listener
   * closure (idle memory per connection is a product target; the hub's periodic lag check is
   * the fallback for bytes ws itself queued).
   */
  private armDrain(): void {
    if (this.drainArmed) return;
    this.drainArmed = true;
    this.socket.once('drain', () => {
      this.drainArmed = false;
      this.conn.drained();
    });
  }

  /** A direct write that had to be queued is out (or failed: the socket is then destroyed). */
  directWriteDone(status: number): void {
    this.directQueued = 0;
    if (status < 0) {
      // Cancelled by the socket's destruction, or the peer went away: as Node does, drop it.
      if (!this.socket.destroyed) this.socket.destroy();
      return;
    }
    this.conn.drained();
  }

  bufferedBytes(): number {
    return this.ws.bufferedAmount + this.directQueued;
  }

  /** Sends the close frame (after whatever is queued); a peer that never answers is dropped. */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.closeCode = code;
    try {
      this.ws.close(code, reason);
    } catch (err) {
      // ws refuses codes it may not send and reasons over 123 bytes: drop the connection instead.
      this.shared.logger.warn({ err, code }, 'could not send a close frame');
      this.ws.terminate();
      return;
    }
    // A peer that let a whole heartbeat window pass without reading its ping will not read the
    // close frame either: it gets one more heartbeat, not the full grace.
    const graceMs = code === CloseCode.HeartbeatTimeout ? Math.min(CLOSE_GRACE_MS, this.shared.heartbeatMs) : CLOSE_GRACE_MS;
    this.closeTimer = setTimeout(() => this.ws.terminate(), graceMs);
    this.closeTimer.unref();
  }

  // ---- events from the socket -----------------------------------------------------------------

  onMessage(data: RawData, isBinary: boolean): void {
    if (this.closing) return;
    const verdict = this.limiter.take();
    if (verdict === 'abusive') {
      this.shared.metrics.clientErrors.inc({ code: ErrorCode.RateLimited });
      this.close(CloseCode.Policy, 'too many commands');
      return;
    }
    if (verdict === 'limited') {
      this.replyError(undefined, ErrorCode.RateLimited, `more than ${this.shared.maxCommandsPerSecond} commands per second`);
      return;
    }
    if (isBinary) {
      this.replyError(undefined, ErrorCode.BadRequest, 'binary frames are not accepted; send JSON text frames');
      return;
    }
    const frame = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const parsed = parseClientFrame(frame, this.shared.parseLimits);
    if (!parsed.ok) {
      this.replyError(parsed.error.id, parsed.error.code, parsed.error.message);
      return;
    }
    this.run(parsed.command);
  }

  onError(err: Error): void {
    this.shared.logger.debug({ err: err.message, session: this.session }, 'websocket error');
  }

  onClosed(peerCode: number): void {
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.ws.client = undefined;
    this.conn.close();
    this.shared.onClose(this);
    const code = this.closeCode ?? peerCode;
    this.shared.metrics.connectionsClosed.inc({ transport: 'ws', code: String(code) });
    this.shared.logger.debug({ session: this.session, code }, 'websocket closed');
  }

  private run(cmd: ClientCommand): void {
    if (this.waiting !== undefined) {
      if (this.waiting.length < MAX_WAITING_COMMANDS) this.waiting.push(cmd);
      else this.replyError(cmd.id, ErrorCode.RateLimited, 'too many commands while a token is being verified');
      return;
    }
    switch (cmd.op) {
      case 'ping':
        this.conn.send({ op: 'pong', id: cmd.id });
        return;
      case 'auth':
        this.waiting = [];
        void this.authenticate(cmd);
        return;
      case 'subscribe': {
        const waitMs = this.limiter.takeChannel();
        if (waitMs > 0) {
          this.replyError(cmd.id, ErrorCode.RateLimited, `more than ${this.shared.maxChannelsPerMinute} subscribes per minute; retry in ${waitMs} ms`, waitMs);
          return;
        }
        this.subscribe(cmd);
        return;
      }
      case 'unsubscribe':
        this.conn.unsubscribe(cmd).catch((err: unknown) => this.internalError(cmd.id, err));
        return;
      case 'presence':
        if (!this.shared.canRead(this, cmd.channel)) {
          this.replyError(cmd.id, ErrorCode.Forbidden, `you may not read "${cmd.channel}"`);
          return;
        }
        this.conn.send({ op: 'presence', id: cmd.id, channel: cmd.channel, subscribers: this.shared.presence(cmd.channel) });
        return;
    }
  }

  /** The one permission check of a subscription (SPEC §10): made here, never per message. */
  private subscribe(cmd: SubscribeCommand): void {
    const access = readAccess(this.shared.publicChannels, this.principal, cmd.channel);
    if (access === 'unauthorized') {
      this.replyError(cmd.id, ErrorCode.Unauthorized, `"${cmd.channel}" is not public: send a token first ({"op":"auth",…})`);
      return;
    }
    if (access === 'forbidden') {
      this.replyError(cmd.id, ErrorCode.Forbidden, `your token does not allow reading "${cmd.channel}"`);
      return;
    }
    this.conn.subscribe(cmd).catch((err: unknown) => this.internalError(cmd.id, err));
  }

  private async authenticate(cmd: AuthCommand): Promise<void> {
    const { verifier, logger } = this.shared;
    if (!verifier.enabled) {
      this.replyError(cmd.id, ErrorCode.BadRequest, 'this gateway has no keys configured: every channel is public and tokens are not used');
      this.resume();
      return;
    }
    let principal: Principal;
    try {
      principal = await verifier.verify(cmd.token);
    } catch (err) {
      if (this.closing) return;
      const message = err instanceof Error ? err.message : 'the token is not valid';
      logger.debug({ session: this.session, reason: message }, 'websocket token refused');
      this.replyError(cmd.id, ErrorCode.Unauthorized, message);
      // Closed once the hub has written the error (it flushes once per turn, in an earlier
      // setImmediate); commands arriving meanwhile keep waiting and are dropped with the connection.
      setImmediate(() => this.close(CloseCode.Unauthorized, closeReason({ reason: 'unauthorized' })));
      return;
    }
    if (this.closing) return;
    this.principal = principal;
    this.sub = principal.sub;
    this.shared.onToken(this, principal.validUntil);
    this.conn.send({ op: 'authed', id: cmd.id, sub: principal.sub, expiresAt: principal.expiresAt });
    logger.debug({ session: this.session, sub: principal.sub }, 'websocket authenticated');
    // A refresh may cover less than the token it replaces.
    for (const channel of this.conn.channels()) {
      if (readAccess(this.shared.publicChannels, principal, channel) !== 'ok') {
        this.conn.end(channel, Reason.Forbidden).catch((err: unknown) => this.internalError(cmd.id, err));
      }
    }
    this.resume();
  }

  /** Runs the commands that waited for an `auth` (a later `auth` among them waits again). */
  private resume(): void {
    const queued = this.waiting ?? [];
    this.waiting = undefined;
    for (const c of queued) this.run(c);
  }

  private internalError(id: number, err: unknown): void {
    this.shared.logger.error({ err, session: this.session }, 'command failed');
    this.replyError(id, ErrorCode.Internal, 'the command failed; try again');
  }

  private replyError(id: number | undefined, code: ErrorCode, message: string, retryAfterMs?: number): void {
    this.shared.metrics.clientErrors.inc({ code });
    const msg: ErrorMessage = id === undefined ? { op: 'error', code, message } : { op: 'error', id, code, message };
    if (retryAfterMs !== undefined) msg.retryAfterMs = retryAfterMs;
    this.conn.send(msg);
  }

  onPong(payload: Buffer): void {
    if (this.awaitedPong !== 0 && payload.length === 4 && payload.readUInt32BE(0) === this.awaitedPong) this.awaitedPong = 0;
  }

  // ---- ClientConnection (called by the gateway) -----------------------------------------------

  queuedBytes(): number {
    return this.bufferedBytes();
  }

  remote(): string {
    return this.socket.remoteAddress ?? '';
  }

  closeByOperator(): void {
    this.close(CloseCode.OperatorDisconnect, closeReason({ reason: 'operator' }));
  }

  heartbeat(): void {
    if (this.closing) return;
    if (this.awaitedPong !== 0) {
      this.close(CloseCode.HeartbeatTimeout, 'no pong within the heartbeat window');
      return;
    }
    const payload = pingPayload();
    this.awaitedPong = payload.readUInt32BE(0);
    this.ws.ping(payload);
  }

  drain(retryAfterMs: number): void {
    this.close(CloseCode.GoingAway, closeReason({ retryAfterMs }));
  }

  tokenExpired(): void {
    this.expiry = undefined;
    this.shared.metrics.clientErrors.inc({ code: ErrorCode.Unauthorized });
    this.close(CloseCode.Unauthorized, closeReason({ reason: 'token_expired' }));
  }

  terminate(): void {
    this.ws.terminate();
  }
}
