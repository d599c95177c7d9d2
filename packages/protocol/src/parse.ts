import { isValidChannel } from './channel.js';
import { quoteInput } from './echo.js';
import { ErrorCode } from './errors.js';
import type { ClientCommand, StreamPosition } from './messages.js';

/** Client → server frames are at most this many bytes (SPEC §3). */
export const MAX_CLIENT_FRAME_BYTES = 4096;
/** Epochs are opaque, but a client can only echo what a server produced: short and printable. */
export const MAX_EPOCH_LENGTH = 64;
const EPOCH_RE = /^[A-Za-z0-9_-]{1,64}$/;

export interface ParseLimits {
  /** Largest `history` a client may ask for. */
  maxHistory: number;
}

export const DEFAULT_PARSE_LIMITS: ParseLimits = { maxHistory: 1000 };

export interface ParseError {
  code: ErrorCode;
  message: string;
  /** The command's `id`, when the frame was an object with a valid one. */
  id?: number;
}

export type ParseResult = { ok: true; command: ClientCommand } | { ok: false; error: ParseError };

function fail(message: string, id?: number): ParseResult {
  return id === undefined
    ? { ok: false, error: { code: ErrorCode.BadRequest, message } }
    : { ok: false, error: { code: ErrorCode.BadRequest, message, id } };
}

function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isOffset(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

const SUBSCRIBE_KEYS = new Set(['op', 'id', 'channel', 'history', 'since']);
const UNSUBSCRIBE_KEYS = new Set(['op', 'id', 'channel']);
const PING_KEYS = new Set(['op', 'id']);
const AUTH_KEYS = new Set(['op', 'id', 'token']);
/** A JWT is three base64url parts; the frame limit bounds its length. */
const TOKEN_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

function unknownKey(obj: Record<string, unknown>, allowed: Set<string>): string | undefined {
  for (const k of Object.keys(obj)) if (!allowed.has(k)) return k;
  return undefined;
}

/**
 * Parses one client frame strictly: exactly one JSON object of a known `op`, every field of the
 * right type, channel names valid, `history`/`since` within bounds. Never throws.
 */
export function parseClientFrame(
  frame: string | Buffer,
  limits: ParseLimits = DEFAULT_PARSE_LIMITS,
): ParseResult {
  const size = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length;
  if (size > MAX_CLIENT_FRAME_BYTES) return fail(`frame is ${size} bytes; the limit is ${MAX_CLIENT_FRAME_BYTES}`);
  let value: unknown;
  try {
    value = JSON.parse(typeof frame === 'string' ? frame : frame.toString('utf8'));
  } catch {
    return fail('frame is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('frame must be one JSON object');
  }
  const obj = value as Record<string, unknown>;
  const id = isId(obj.id) ? obj.id : undefined;
  if (id === undefined) return fail('"id" must be a non-negative integer');
  if (typeof obj.op !== 'string') return fail('"op" must be a string', id);
  switch (obj.op) {
    case 'ping': {
      const extra = unknownKey(obj, PING_KEYS);
      if (extra !== undefined) return fail(`unknown field ${quoteInput(extra)}`, id);
      return { ok: true, command: { op: 'ping', id } };
    }
    case 'auth': {
      const extra = unknownKey(obj, AUTH_KEYS);
      if (extra !== undefined) return fail(`unknown field ${quoteInput(extra)}`, id);
      if (typeof obj.token !== 'string' || !TOKEN_RE.test(obj.token)) return fail('"token" must be a JWT (header.payload.signature)', id);
      return { ok: true, command: { op: 'auth', id, token: obj.token } };
    }
    case 'unsubscribe':
    case 'presence': {
      const extra = unknownKey(obj, UNSUBSCRIBE_KEYS);
      if (extra !== undefined) return fail(`unknown field ${quoteInput(extra)}`, id);
      if (!isValidChannel(obj.channel)) return fail(badChannel(obj.channel), id);
      return { ok: true, command: { op: obj.op, id, channel: obj.channel } };
    }
    case 'subscribe': {
      const extra = unknownKey(obj, SUBSCRIBE_KEYS);
      if (extra !== undefined) return fail(`unknown field ${quoteInput(extra)}`, id);
      if (!isValidChannel(obj.channel)) return fail(badChannel(obj.channel), id);
      const channel = obj.channel;
      if (obj.history !== undefined && obj.since !== undefined) {
        return fail('"history" and "since" cannot be combined', id);
      }
      if (obj.history !== undefined) {
        const h = obj.history;
        if (typeof h !== 'number' || !Number.isSafeInteger(h) || h < 0 || h > limits.maxHistory) {
          return fail(`"history" must be an integer from 0 to ${limits.maxHistory}`, id);
        }
        return { ok: true, command: { op: 'subscribe', id, channel, history: h } };
      }
      if (obj.since !== undefined) {
        const since = parseSince(obj.since);
        if (typeof since === 'string') return fail(since, id);
        return { ok: true, command: { op: 'subscribe', id, channel, since } };
      }
      return { ok: true, command: { op: 'subscribe', id, channel } };
    }
    default:
      return fail(`unknown op ${quoteInput(obj.op)}`, id);
  }
}

function badChannel(v: unknown): string {
  return typeof v === 'string'
    ? 'channel names are 1–128 characters of A-Z a-z 0-9 _ - . :'
    : '"channel" must be a string';
}

function parseSince(v: unknown): StreamPosition | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return '"since" must be an object {epoch, offset}';
  const s = v as Record<string, unknown>;
  for (const k of Object.keys(s)) if (k !== 'epoch' && k !== 'offset') return `unknown field ${quoteInput(`since.${k}`)}`;
  if (typeof s.epoch !== 'string' || !EPOCH_RE.test(s.epoch)) return '"since.epoch" must be an epoch string from the server';
  if (!isOffset(s.offset)) return '"since.offset" must be a non-negative integer';
  return { epoch: s.epoch, offset: s.offset };
}

/** True when `epoch` has the shape of an epoch this server could have produced. */
export function isValidEpoch(epoch: unknown): epoch is string {
  return typeof epoch === 'string' && EPOCH_RE.test(epoch);
}
