import { Backoff } from '@megaphone/client';
import { isValidChannel } from '@megaphone/protocol';
import { resolveEndpoints, type Endpoints } from '../config.js';
import { CONNECTION_HELP, defineCommand, type InputStream } from '../context.js';
import { ApiError, authHint, requestJson } from '../http.js';
import { CONNECTION_OPTIONS, HELP_OPTION, UsageError } from '../usage.js';

const HELP = `Usage: megaphone publish <channel> [JSON]
       megaphone publish <channel> --lines < file

Publishes through the producer API and prints each {"channel","epoch","offset"} it got.

  megaphone publish notes '{"text":"deployed"}'   the JSON argument, as one publication
  echo '{"n":1}' | megaphone publish notes        no argument: standard input as one JSON document
  tail -f app.log | megaphone publish logs --lines
                                                  one publication {"line":"…"} per line of standard
                                                  input, sent as they arrive (lines that arrive
                                                  together go in one request)

Options:
  --lines      publish standard input line by line
  -h, --help   this help

Publishing needs a token with a "publish" claim for the channel (--token), PRODUCER_API_TOKEN's
value, or, on a producer with neither configured, a connection from the same machine.

${CONNECTION_HELP}`;

const OPTIONS = { ...HELP_OPTION, ...CONNECTION_OPTIONS, lines: { type: 'boolean' } } as const;

/** Per request: well under the producer's 1000 items and its default 1 MiB body. */
const BATCH_MAX_ITEMS = 500;
const BATCH_MAX_BYTES = 256 * 1024;
/** A line longer than this cannot be published (PRODUCER_MAX_BODY_BYTES' default); reading stops. */
const MAX_LINE_BYTES = 1024 * 1024;
/** A whole-document publish from stdin is bounded the same way. */
const MAX_DOCUMENT_BYTES = 1024 * 1024;

interface Position {
  channel: string;
  epoch: string;
  offset: number;
}

export const publish = defineCommand({
  name: 'publish',
  help: HELP,
  options: OPTIONS,
  positionals: true,
  async run(ctx, { values, positionals }) {
    const [channel, json, ...extra] = positionals;
    if (channel === undefined) throw new UsageError('missing <channel> (e.g. megaphone publish notes \'{"text":"hi"}\')');
    if (!isValidChannel(channel)) throw new UsageError(`"${channel}" is not a channel name (1–128 of A-Z a-z 0-9 _ - . :)`);
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}" (quote the JSON: '{"a":1}')`);
    if (json !== undefined && values.lines === true) throw new UsageError('give either a JSON argument or --lines, not both');
    if (json === undefined && values.lines !== true && ctx.stdin.isTTY === true) {
      throw new UsageError('missing JSON (e.g. megaphone publish notes \'{"text":"hi"}\'), or --lines to publish standard input');
    }
    const endpoints = resolveEndpoints(values, ctx.env);
    const send = (items: { channel: string; data: unknown }[]) => postWithRetry(endpoints, items, ctx.signal);

    if (values.lines === true) {
      for await (const batch of lineBatches(ctx.stdin)) {
        if (ctx.signal.aborted) break;
        for (const p of await send(batch.map((line) => ({ channel, data: { line } })))) ctx.term.out(JSON.stringify(p));
      }
      return 0;
    }
    const data = json !== undefined ? parseJson(json, 'the JSON argument') : parseJson(await readAll(ctx.stdin), 'standard input');
    for (const p of await send([{ channel, data }])) ctx.term.out(JSON.stringify(p));
    return 0;
  },
});

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`${what} is not JSON: ${(err as Error).message}`);
  }
}

async function readAll(stdin: InputStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += b.length;
    if (size > MAX_DOCUMENT_BYTES) throw new Error(`standard input is larger than ${MAX_DOCUMENT_BYTES} bytes; use --lines for a stream`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The lines of `input` (without `\n` or `\r\n`), grouped as they arrive: what one read returned,
 * cut into requests of at most BATCH_MAX_ITEMS / BATCH_MAX_BYTES. The next read waits until the
 * caller has sent a batch, so a fast producer of lines is slowed down rather than buffered.
 */
export async function* lineBatches(input: AsyncIterable<unknown>): AsyncGenerator<string[]> {
  const decoder = new TextDecoder();
  let pending = '';
  const cut = function* (lines: string[]): Generator<string[]> {
    let batch: string[] = [];
    let bytes = 0;
    for (const line of lines) {
      if (batch.length > 0 && (batch.length >= BATCH_MAX_ITEMS || bytes + line.length > BATCH_MAX_BYTES)) {
        yield batch;
        batch = [];
        bytes = 0;
      }
      batch.push(line);
      bytes += line.length + 12;
    }
    if (batch.length > 0) yield batch;
  };
  for await (const chunk of input) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk as Uint8Array, { stream: true });
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    if (pending.length > MAX_LINE_BYTES) throw new Error(`a line of standard input is longer than ${MAX_LINE_BYTES} bytes`);
    yield* cut(parts.map(stripCr));
  }
  pending += decoder.decode();
  if (pending.length > 0) yield* cut([stripCr(pending)]);
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** POST /v1/publish; a 503 (bus unavailable, outbox full: nothing published) is retried a few times. */
async function postWithRetry(endpoints: Endpoints, items: { channel: string; data: unknown }[], signal: AbortSignal): Promise<Position[]> {
  const backoff = new Backoff({ initialMs: 250, maxMs: 4000 });
  for (let attempt = 1; ; attempt++) {
    try {
      return await requestJson<Position[]>(endpoints.api, '/v1/publish', { method: 'POST', body: items, token: endpoints.token, flag: '--api', signal });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (err.status === 503 && attempt < 5) {
        const wait = Math.max(err.retryAfterMs ?? 0, backoff.next());
        await new Promise((r) => setTimeout(r, wait));
        continue;
      }
      throw new ApiError(`${err.message}${authHint(err, '--token', 'MEGAPHONE_TOKEN')}`, err.status, err.code);
    }
  }
}
