import { resolveEndpoints, type Endpoints } from '../config.js';
import { CONNECTION_HELP, defineCommand, whenAborted, type CommandContext } from '../context.js';
import { parseDurationSeconds } from '../duration.js';
import { ApiError, authHint, requestJson } from '../http.js';
import { SORT_KEYS, renderTop, type ChannelInfo, type ConnectionInfo, type SortKey, type TopSnapshot } from '../top-view.js';
import { CONNECTION_OPTIONS, HELP_OPTION, UsageError, intOption } from '../usage.js';

const HELP = `Usage: megaphone top [--sort queue|lag|age] [--limit N] [--prefix P] [--interval 2s] [--once]

The operator view: the slowest connections of a gateway (GET /v1/connections on its admin port)
and the busiest channels of the cluster (GET /v1/channels), redrawn in place. Keys: q or Ctrl-C
quits, s changes the sort, r refreshes now. When stdout is not a terminal (or with --once) it
prints the tables once and exits.

Options:
  --sort KEY         queue (default: bytes waiting), lag (publications behind), age
  --limit N          rows asked for (default 50)
  --prefix P         only channels starting with P (e.g. cmd:)
  --interval D       refresh period (default 2s; 500ms, 5s, …)
  --once             print once and exit
  -h, --help         this help

The admin API needs --admin-token / MEGAPHONE_ADMIN_TOKEN (the gateway's ADMIN_TOKEN), or, on a
gateway without one, a connection from the same machine.

${CONNECTION_HELP}`;

const OPTIONS = {
  ...HELP_OPTION,
  ...CONNECTION_OPTIONS,
  sort: { type: 'string' },
  limit: { type: 'string' },
  prefix: { type: 'string' },
  interval: { type: 'string' },
  once: { type: 'boolean' },
} as const;

interface TopQuery {
  sort: SortKey;
  limit: number;
  prefix: string;
}

async function fetchSnapshot(endpoints: Endpoints, q: TopQuery, signal: AbortSignal): Promise<TopSnapshot> {
  const opts = { token: endpoints.adminToken, flag: '--admin', signal, timeoutMs: 5000 };
  const prefix = q.prefix === '' ? '' : `&prefix=${encodeURIComponent(q.prefix)}`;
  try {
    const [connections, channels] = await Promise.all([
      requestJson<ConnectionInfo[]>(endpoints.admin, `/v1/connections?sort=${q.sort}&limit=${q.limit}`, opts),
      requestJson<ChannelInfo[]>(endpoints.admin, `/v1/channels?limit=${q.limit}${prefix}`, opts),
    ]);
    if (!Array.isArray(connections) || !Array.isArray(channels)) throw new ApiError(`${endpoints.admin}: not the operator API's replies`, 0, undefined);
    return { connections, channels, at: Date.now() };
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      throw new ApiError(`${endpoints.admin} has no operator API (${err.message}); is --admin the gateway's admin port?`, 404, err.code);
    }
    if (err instanceof ApiError) throw new ApiError(`${err.message}${authHint(err, '--admin-token', 'MEGAPHONE_ADMIN_TOKEN')}`, err.status, err.code);
    throw err;
  }
}

function parseSort(value: string | undefined): SortKey {
  const sort = value ?? 'queue';
  if (!(SORT_KEYS as readonly string[]).includes(sort)) throw new UsageError(`--sort must be queue, lag or age, not "${sort}"`);
  return sort as SortKey;
}

export const top = defineCommand({
  name: 'top',
  help: HELP,
  options: OPTIONS,
  positionals: false,
  async run(ctx, { values }) {
    const query: TopQuery = { sort: parseSort(values.sort), limit: intOption('limit', values.limit, 1, 1000) ?? 50, prefix: values.prefix ?? '' };
    const intervalText = values.interval ?? '2s';
    const intervalMs = /^\d+ms$/.test(intervalText) ? Number(intervalText.slice(0, -2)) : (parseDurationSeconds(intervalText) ?? 0) * 1000;
    if (intervalMs < 200 || intervalMs > 3_600_000) throw new UsageError(`--interval must be a duration from 200ms to 1h, not "${intervalText}"`);
    const endpoints = resolveEndpoints(values, ctx.env);
    const interactive = values.once !== true && ctx.term.stdoutIsTTY && ctx.stdin.isTTY === true && !ctx.env.dumbTerminal;
    if (!interactive) {
      const snapshot = await fetchSnapshot(endpoints, query, ctx.signal);
      const lines = renderTop(snapshot, {
        admin: endpoints.admin,
        sort: query.sort,
        width: ctx.term.stdoutIsTTY ? (ctx.term.stdout.columns ?? 120) : 1000,
        height: Number.MAX_SAFE_INTEGER,
        paint: (t, ...s) => ctx.term.paint(t, ...s),
        now: Date.now(),
        keys: false,
      });
      for (const line of lines) ctx.term.out(line);
      return 0;
    }
    return interactiveTop(ctx, endpoints, query, intervalMs);
  },
});

/** The full-screen view: alternate screen, raw keyboard, redrawn in place; the terminal is restored on every way out. */
async function interactiveTop(ctx: CommandContext, endpoints: Endpoints, query: TopQuery, intervalMs: number): Promise<number> {
  const { term, stdin } = ctx;
  const screen = term.stdout;
  let snapshot: TopSnapshot | undefined;
  let error: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let quit!: () => void;
  const quitting = new Promise<void>((resolve) => (quit = resolve));
  const fetches = new AbortController();

  const draw = (): void => {
    if (stopped) return;
    const lines = renderTop(snapshot, {
      admin: endpoints.admin,
      sort: query.sort,
      width: screen.columns ?? 80,
      height: screen.rows ?? 24,
      paint: (t, ...s) => term.paint(t, ...s),
      now: Date.now(),
      error,
      keys: true,
    });
    screen.write(`\u001b[H${lines.map((l) => `${l}\u001b[K`).join('\r\n')}\u001b[J`);
  };
  const refresh = async (): Promise<void> => {
    clearTimeout(timer);
    try {
      snapshot = await fetchSnapshot(endpoints, query, fetches.signal);
      error = undefined;
    } catch (err) {
      if (stopped) return;
      error = `${(err as Error).message} — retrying every ${intervalMs / 1000}s`;
    }
    draw();
    if (!stopped) timer = setTimeout(() => void refresh(), intervalMs);
  };
  const onKey = (chunk: Buffer | string): void => {
    const key = chunk.toString();
    if (key === 'q' || key === 'Q' || key === '\u0003' || key === '\u001b') quit();
    else if (key === 's' || key === 'S') {
      query.sort = SORT_KEYS[(SORT_KEYS.indexOf(query.sort) + 1) % SORT_KEYS.length]!;
      void refresh();
    } else if (key === 'r' || key === 'R') void refresh();
  };
  const onResize = (): void => draw();

  // Alternate screen, cursor hidden; raw mode so that q and Ctrl-C arrive as keys.
  screen.write('\u001b[?1049h\u001b[?25l\u001b[H\u001b[2J');
  stdin.setRawMode?.(true);
  stdin.on('data', onKey);
  stdin.resume();
  screen.on?.('resize', onResize);
  try {
    draw();
    void refresh();
    await Promise.race([quitting, whenAborted(ctx.signal)]);
  } finally {
    stopped = true;
    clearTimeout(timer);
    fetches.abort();
    screen.off?.('resize', onResize);
    stdin.off('data', onKey);
    stdin.setRawMode?.(false);
    stdin.pause();
    screen.write('\u001b[?25h\u001b[?1049l');
  }
  return 0;
}
