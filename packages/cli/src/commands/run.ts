import { jobChannel } from '@megaphone/protocol';
import { resolveEndpoints, type Endpoints } from '../config.js';
import { openClient } from '../connection.js';
import { CONNECTION_HELP, defineCommand, whenAborted, type CommandContext } from '../context.js';
import { describeGap } from '../describe.js';
import { ApiError, authHint, requestJson } from '../http.js';
import { abnormalEnd, isLifecycle, isOutput, type LifecycleEvent } from '../job-output.js';
import { CONNECTION_OPTIONS, HELP_OPTION, UsageError } from '../usage.js';

const HELP = `Usage: megaphone run <job> [--follow]

Starts a run of a job and prints its id.

With --follow it streams the run's output instead (its stdout to stdout, its stderr to stderr) and
exits with the run's own exit code: \`megaphone run deploy --follow || alert\` fails when the job
fails. A run that timed out, was killed or stopped, was lost with its producer, or could not start
exits 1 with the reason on stderr. Ctrl-C stops following (exit 130); the run goes on.

Options:
  -f, --follow   stream the run's output and exit with its exit code
  -h, --help     this help

Starting a run needs a token whose "run" claim covers the job (--token), PRODUCER_API_TOKEN's
value, or, on a producer with neither configured, a connection from the same machine.

${CONNECTION_HELP}`;

const OPTIONS = { ...HELP_OPTION, ...CONNECTION_OPTIONS, follow: { type: 'boolean', short: 'f' } } as const;

/** How long --follow waits for its subscription before giving up without starting anything. */
const SUBSCRIBE_TIMEOUT_MS = 15_000;

type Finish = { code: number; reason?: string };

export const run = defineCommand({
  name: 'run',
  help: HELP,
  options: OPTIONS,
  positionals: true,
  async run(ctx, { values, positionals }) {
    const [job, ...extra] = positionals;
    if (job === undefined) throw new UsageError('missing <job> (megaphone jobs lists them)');
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    if (!/^[a-z0-9-]{1,64}$/.test(job)) throw new UsageError(`"${job}" is not a job name ([a-z0-9-], at most 64)`);
    const endpoints = resolveEndpoints(values, ctx.env);
    if (values.follow !== true) {
      ctx.term.out((await startRun(endpoints, job, ctx.signal)).run);
      return 0;
    }
    return follow(ctx, endpoints, job);
  },
});

async function startRun(endpoints: Endpoints, job: string, signal: AbortSignal): Promise<{ run: string; channel: string }> {
  try {
    // The body is ignored, but a POST must say application/json (the producer refuses anything a
    // cross-site form could send).
    return await requestJson(endpoints.api, `/v1/jobs/${encodeURIComponent(job)}/runs`, { method: 'POST', body: {}, token: endpoints.token, flag: '--api', signal });
  } catch (err) {
    if (err instanceof ApiError) throw new ApiError(`${err.message}${authHint(err, '--token', 'MEGAPHONE_TOKEN')}`, err.status, err.code);
    throw err;
  }
}

/**
 * Subscribes to `cmd:<job>` first and starts the run only once the subscription is live, so no
 * line of the run can be missed; publications are held until the run's id is known, then those
 * of other runs are dropped.
 */
async function follow(ctx: CommandContext, endpoints: Endpoints, job: string): Promise<number> {
  const { term } = ctx;
  const { client, failed } = openClient(endpoints, term);
  const channel = jobChannel(job);
  let runId: string | undefined;
  const held: unknown[] = [];
  let finish!: (f: Finish) => void;
  const finished = new Promise<Finish>((resolve) => (finish = resolve));
  let subscribed!: () => void;
  const live = new Promise<void>((resolve) => (subscribed = resolve));

  const handle = (data: unknown): void => {
    if (isOutput(data) && data.run === runId) {
      for (const line of data.lines) {
        if (data.stream === 'stderr') term.err(term.sanitize(line, 'stderr'));
        else term.out(term.sanitize(line, 'stdout'));
      }
    } else if (isLifecycle(data) && data.run === runId && data.event === 'exited') {
      finish(outcomeOf(data));
    }
  };
  // After a hole in the stream the `exited` event may be in it: ask the producer for the run's state.
  const checkRun = async (): Promise<void> => {
    if (runId === undefined) return;
    const summary = await requestJson<LifecycleEvent & { state: string }>(endpoints.api, `/v1/runs/${encodeURIComponent(runId)}`, {
      token: endpoints.token,
      flag: '--api',
    }).catch(() => undefined);
    if (summary?.state === 'exited') finish(outcomeOf(summary));
  };

  client.subscribe(channel, {
    onSubscribed: () => subscribed(),
    onMessage: (data) => {
      if (runId === undefined) held.push(data);
      else handle(data);
    },
    onGap: (gap) => {
      term.err(term.paintErr(`megaphone: ${describeGap(gap)}`, 'yellow'));
      void checkRun();
    },
    onError: (e) => {
      if (e.code !== 'rate_limited' && e.code !== 'history_unavailable' && e.code !== 'internal') {
        finish({ code: 1, reason: `cannot follow ${channel}: ${e.code}: ${e.message}${e.code === 'unauthorized' ? ' (pass a token with --token or MEGAPHONE_TOKEN)' : ''}` });
      }
    },
  });

  try {
    let timer: NodeJS.Timeout | undefined;
    const ready = await Promise.race([
      live.then(() => 'live' as const),
      finished,
      failed.then((reason): Finish => ({ code: 1, reason })),
      whenAborted(ctx.signal).then((): Finish => ({ code: 130 })),
      new Promise<Finish>((resolve) => {
        timer = setTimeout(() => resolve({ code: 1, reason: `cannot reach the gateway at ${endpoints.gateway} (--gateway); the run was not started` }), SUBSCRIBE_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (ready !== 'live') return report(ctx, ready);

    const started = await startRun(endpoints, job, ctx.signal);
    runId = started.run;
    if (term.interactiveErr) term.err(term.paintErr(`── run ${runId} of ${job} started`, 'dim'));
    for (const data of held.splice(0)) handle(data);

    const end = await Promise.race([
      finished,
      failed.then((reason): Finish => ({ code: 1, reason: `${reason}; run ${runId} goes on` })),
      whenAborted(ctx.signal).then((why): Finish => ({
        code: why === 'stdout-closed' ? 0 : 130,
        ...(why === 'stdout-closed' ? {} : { reason: `stopped following; run ${runId} goes on (megaphone tail ${channel})` }),
      })),
    ]);
    return report(ctx, end);
  } finally {
    client.close();
    term.clearStatus();
  }
}

function outcomeOf(e: LifecycleEvent): Finish {
  const abnormal = abnormalEnd(e);
  if (abnormal !== undefined) return { code: 1, reason: `run ${e.run} ${abnormal}` };
  return { code: typeof e.code === 'number' ? e.code : 1 };
}

function report(ctx: CommandContext, f: Finish): number {
  if (f.reason !== undefined) ctx.term.err(ctx.term.paintErr(`megaphone: ${f.reason}`, f.code === 130 ? 'dim' : 'red'));
  return f.code;
}
