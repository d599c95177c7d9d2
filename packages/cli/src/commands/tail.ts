import { isValidChannel, isValidEpoch, UPTIME_CHANNEL, type StreamPosition } from '@megaphone/protocol';
import type { MessageMeta } from '@megaphone/client';
import { resolveEndpoints } from '../config.js';
import { openClient } from '../connection.js';
import { CONNECTION_HELP, defineCommand, whenAborted } from '../context.js';
import { describeGap, formatDuration } from '../describe.js';
import { abnormalEnd, isLifecycle, isOutput, type LifecycleEvent } from '../job-output.js';
import type { Terminal } from '../terminal.js';
import { CONNECTION_OPTIONS, HELP_OPTION, UsageError, intOption } from '../usage.js';

const HELP = `Usage: megaphone tail <channel>… [--history N] [--since EPOCH:OFFSET] [--count N] [--json]

Prints a channel's publications as they come, and keeps following across reconnects: a dropped
connection resumes where it left off, and anything that could not be recovered is reported on
stderr as a "gap" line, never skipped silently.

A cmd:<job> channel prints its lines as plain text (stderr lines on stderr, the job's colours kept
on a terminal); run lifecycle events go to stderr. Any other channel prints each publication's data
as one JSON line.

Options:
  --history N            start with the last N publications (then live)
  --since EPOCH:OFFSET   resume after this position (one channel only; --json prints positions)
  -n, --count N          stop after N publications (exit 0)
  --json                 every message as one JSON line: {"channel","epoch","offset","ts","data"}
  -h, --help             this help

${CONNECTION_HELP}

Examples:
  megaphone tail uptime
  megaphone tail cmd:ticker --history 20
  megaphone tail jobs --json --count 1`;

const OPTIONS = {
  ...HELP_OPTION,
  ...CONNECTION_OPTIONS,
  history: { type: 'string' },
  since: { type: 'string' },
  count: { type: 'string', short: 'n' },
  json: { type: 'boolean' },
} as const;

export function parseSince(value: string): StreamPosition {
  const at = value.lastIndexOf(':');
  const epoch = value.slice(0, Math.max(0, at));
  const offset = value.slice(at + 1);
  if (at <= 0 || !isValidEpoch(epoch) || !/^\d+$/.test(offset) || !Number.isSafeInteger(Number(offset))) {
    throw new UsageError(`--since must be EPOCH:OFFSET (as printed by --json), not "${value}"`);
  }
  return { epoch, offset: Number(offset) };
}

export const tail = defineCommand({
  name: 'tail',
  help: HELP,
  options: OPTIONS,
  positionals: true,
  async run(ctx, { values, positionals }) {
    if (positionals.length === 0) throw new UsageError('missing <channel> (e.g. megaphone tail uptime)');
    const bad = positionals.find((c) => !isValidChannel(c));
    if (bad !== undefined) throw new UsageError(`"${bad}" is not a channel name (1–128 of A-Z a-z 0-9 _ - . :)`);
    const channels = [...new Set(positionals)];
    const history = intOption('history', values.history, 0, 1_000_000);
    const count = intOption('count', values.count, 1, Number.MAX_SAFE_INTEGER);
    const since = values.since === undefined ? undefined : parseSince(values.since);
    if (since !== undefined && channels.length > 1) throw new UsageError('--since needs exactly one channel (positions are per channel)');
    const endpoints = resolveEndpoints(values, ctx.env);

    const { client, failed } = openClient(endpoints, ctx.term);
    const print = printer(ctx.term, values.json === true, channels.length > 1);
    let received = 0;
    let refused: string | undefined;
    let done!: (code: number) => void;
    const finished = new Promise<number>((resolve) => (done = resolve));

    for (const channel of channels) {
      client.subscribe(channel, {
        ...(since !== undefined ? { since } : history !== undefined ? { history } : {}),
        conflated: channel === UPTIME_CHANNEL,
        onMessage: (data, meta) => {
          if (count !== undefined && received >= count) return;
          received++;
          print(data, meta);
          if (count !== undefined && received >= count) done(0);
        },
        onGap: (gap) => ctx.term.err(ctx.term.paintErr(`megaphone: ${describeGap(gap)}`, 'yellow')),
        onError: (e) => {
          if (e.code === 'rate_limited' || e.code === 'history_unavailable' || e.code === 'internal') {
            ctx.term.err(`megaphone: subscribing to ${channel}: ${e.code}: ${e.message} (retrying)`);
            return;
          }
          refused = `cannot follow ${channel}: ${e.code}: ${e.message}${e.code === 'unauthorized' ? ' (pass a token with --token or MEGAPHONE_TOKEN)' : ''}`;
          done(1);
        },
        onUnsubscribed: (reason) => {
          if (reason === 'forbidden' || reason === 'unauthorized') {
            // A refreshed token no longer covers the channel: following it is over.
            refused = `the gateway ended the subscription to ${channel}: ${reason}`;
            done(1);
            return;
          }
          ctx.term.err(`megaphone: the gateway ended the subscription to ${channel} (${reason}); it is renewed on the next connection`);
        },
      });
    }
    // A skipped offset already has its gap line; a duplicate (dropped by the SDK) is said here.
    client.on('anomaly', (a) => {
      if (a.kind !== 'skipped') ctx.term.err(`megaphone: ${a.channel}: ${a.message}`);
    });

    const outcome = await Promise.race([
      finished.then((code) => ({ code, message: refused })),
      failed.then((message) => ({ code: 1, message })),
      whenAborted(ctx.signal).then(() => ({ code: 0, message: undefined })),
    ]);
    client.close();
    ctx.term.clearStatus();
    if (outcome.message !== undefined && !ctx.signal.aborted) ctx.term.err(ctx.term.paintErr(`megaphone: ${outcome.message}`, 'red'));
    return outcome.code;
  },
});

/** How one publication is printed (SPEC §13 `tail`). */
function printer(term: Terminal, json: boolean, several: boolean): (data: unknown, meta: MessageMeta) => void {
  if (json) {
    return (data, meta) => term.out(JSON.stringify({ channel: meta.channel, epoch: meta.epoch, offset: meta.offset, ts: meta.ts, data }));
  }
  // Several channels on a terminal: a coloured channel prefix says where a line came from.
  const prefix = (channel: string, toErr: boolean): string => {
    if (!several || !(toErr ? term.interactiveErr : term.stdoutIsTTY)) return '';
    return `${toErr ? term.paintErr(channel, 'cyan') : term.paint(channel, 'cyan')} `;
  };
  return (data, meta) => {
    if (meta.channel.startsWith('cmd:') && isOutput(data)) {
      const p = prefix(meta.channel, data.stream === 'stderr');
      for (const line of data.lines) {
        if (data.stream === 'stderr') term.err(`${p}${term.sanitize(line, 'stderr')}`);
        else term.out(`${p}${term.sanitize(line, 'stdout')}`);
      }
      return;
    }
    if (meta.channel.startsWith('cmd:') && isLifecycle(data)) {
      term.err(`${prefix(meta.channel, true)}${term.paintErr(`── ${lifecycleText(data)}`, 'dim')}`);
      return;
    }
    term.out(`${prefix(meta.channel, false)}${JSON.stringify(data)}`);
  };
}

function lifecycleText(e: LifecycleEvent): string {
  if (e.event === 'started') return `run ${e.run} started`;
  const took = typeof e.durationMs === 'number' ? ` after ${formatDuration(e.durationMs)}` : '';
  const abnormal = abnormalEnd(e);
  return abnormal === undefined ? `run ${e.run} exited with code ${String(e.code)}${took}` : `run ${e.run} ${abnormal}${took}`;
}
