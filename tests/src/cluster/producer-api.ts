import { API_TOKEN } from './services.js';

export interface Published {
  channel: string;
  epoch: string;
  offset: number;
}

export interface ApiReply {
  status: number;
  body: unknown;
  ms: number;
}

/** The producer's HTTP API as an operator's script would call it. */
export class ProducerApi {
  constructor(private readonly baseUrl: string, private readonly token = API_TOKEN) {}

  async request(method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<ApiReply> {
    const t0 = Date.now();
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      // Every POST says application/json, with a body or without (the API refuses anything else).
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined && method !== 'POST' ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text for the assertion message
    }
    return { status: res.status, body: parsed, ms: Date.now() - t0 };
  }

  /** Publishes a batch; returns each publication's position or throws with the reply. */
  async publish(items: { channel: string; data: unknown }[]): Promise<Published[]> {
    const reply = await this.request('POST', '/v1/publish', items.length === 1 ? items[0] : items);
    if (reply.status !== 200 && reply.status !== 201) throw new Error(`POST /v1/publish → ${reply.status} ${JSON.stringify(reply.body)}`);
    const list = positions(reply.body);
    if (list.length !== items.length) throw new Error(`POST /v1/publish replied ${JSON.stringify(reply.body)} for ${items.length} publications`);
    return list;
  }

  async publishOne(channel: string, data: unknown): Promise<Published> {
    const [p] = await this.publish([{ channel, data }]);
    return p!;
  }

  async startRun(job: string): Promise<{ status: number; run?: string; body: unknown }> {
    const reply = await this.request('POST', `/v1/jobs/${job}/runs`);
    const run = (reply.body as { run?: unknown } | null)?.run;
    return { status: reply.status, body: reply.body, ...(typeof run === 'string' ? { run } : {}) };
  }
}

function isPosition(v: unknown): v is Published {
  const o = v as Published | null;
  return typeof o === 'object' && o !== null && typeof o.channel === 'string' && typeof o.epoch === 'string' && typeof o.offset === 'number';
}

/** SPEC says "replies with each {channel, epoch, offset}": accept one, an array, or an object wrapping an array. */
export function positions(body: unknown): Published[] {
  if (isPosition(body)) return [body];
  if (Array.isArray(body)) return body.filter(isPosition);
  if (typeof body === 'object' && body !== null) {
    for (const v of Object.values(body)) if (Array.isArray(v) && v.every(isPosition)) return v;
  }
  return [];
}
