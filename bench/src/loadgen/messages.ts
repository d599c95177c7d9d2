import type { ClientProtocol } from './ws-client.js';

/** How the load generator publishes during a step. */
export type PublishVia =
  /** Megaphone: `POST /v1/publish` on the producer, one request per tick holding that tick's messages. */
  | { kind: 'producer'; port: number; token?: string }
  /** Megaphone: start a producer job whose command prints timestamped lines. */
  | { kind: 'job'; port: number; job: string; lines: number; token?: string }
  /**
   * Megaphone: `Bus.publish` from `@megaphone/bus` (the Redis Lua publish the producer runs after
   * its HTTP layer), to keep the producer's CPU off the load core when measuring the gateway.
   */
  | { kind: 'bus'; redisPort: number }
  /** Naive ws and the floor: `PUBLISH <channel> <message line>` on Redis. */
  | { kind: 'redis-plain'; redisPort: number }
  /** Socket.IO: what `@socket.io/redis-emitter` publishes. */
  | { kind: 'redis-socketio'; redisPort: number };

export interface ConnectRequest {
  type: 'connect';
  protocol: ClientProtocol;
  port: number;
  /** Path with `{channel}` replaced by each client's channel. */
  pathTemplate: string;
  /** Megaphone with tokens on: every client authenticates with it before subscribing. */
  token?: string;
  clients: number;
  /** Client i subscribes to `channels[i % channels.length]`. */
  channels: string[];
  /** Every n-th client records latency. */
  sampleEvery: number;
  concurrency: number;
}

export interface RunRequest {
  type: 'run';
  via: PublishVia;
  /** Messages per second per channel (open loop); ignored for jobs. */
  ratePerChannel: number;
  durationMs: number;
  /** Characters of the marked text in each message (before JSON framing). */
  payloadChars: number;
  /** After publishing stops, wait at most this long for outstanding deliveries. */
  drainMs: number;
  /** Fraction of clients that stop reading when the step starts (slow consumers). */
  stallFraction: number;
  /** The process whose CPU and memory the step measures. */
  serverPid: number;
  /** Other processes of the system under test (Megaphone's producer) whose CPU the step reports. */
  sidePids: number[];
  /** redis-server, on the load core too. */
  redisPid: number;
}

export interface StopRequest {
  type: 'stop';
}

export type LoadgenRequest = ConnectRequest | RunRequest | StopRequest;

export interface ConnectReply {
  type: 'connected';
  clients: number;
  failed: number;
  firstError?: string;
  elapsedMs: number;
}

export interface RunReply {
  type: 'ran';
  published: number;
  publishErrors: number;
  firstPublishError?: string;
  /** Deliveries expected on clients that kept reading. */
  expected: number;
  delivered: number;
  stalledDelivered: number;
  /** WebSocket frames the clients received (a frame may hold several publications). */
  frames: number;
  disorder: number;
  /** Publish start → last delivery seen (or publish end), ms. */
  windowMs: number;
  publishMs: number;
  latencyUs: { p50: number; p99: number; p999: number; max: number; count: number };
  /** The load generator's own CPU over the step (its publisher process included), as a fraction of one core. */
  loadgenCpu: number;
  /** Each CPU core's busy fraction over the step (all processes, including other users of the machine). */
  coreBusy: number[];
  serverCpuUs: number;
  sideCpuUs: number;
  redisCpuUs: number;
  serverRssStartBytes: number;
  serverRssPeakBytes: number;
  serverRssEndBytes: number;
  closed: number;
  closeCodes: Record<string, number>;
}

export type LoadgenReply = ConnectReply | RunReply | { type: 'error'; message: string };

/** The load generator asks its publisher process for one step's publications. */
export interface PublisherRequest {
  via: PublishVia;
  channels: string[];
  ratePerChannel: number;
  durationMs: number;
  payloadChars: number;
}

export type PublisherReply =
  | { type: 'published'; published: number; errors: number; firstError?: string; perChannel: Array<[string, number]> }
  | { type: 'error'; message: string };
