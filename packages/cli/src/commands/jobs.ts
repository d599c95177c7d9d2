import { resolveEndpoints } from '../config.js';
import { CONNECTION_HELP, defineCommand } from '../context.js';
import { formatDuration, relativeTime } from '../describe.js';
import { requestJson } from '../http.js';
import { printTable, type Cell } from '../table.js';
import type { Style } from '../terminal.js';
import { CONNECTION_OPTIONS, HELP_OPTION } from '../usage.js';

const HELP = `Usage: megaphone jobs [--json]

Lists the producer's jobs and their last run as a table: state, outcome and exit code, when it
ran, how long it took, and when it runs next.

Options:
  --json       the producer's reply (GET /v1/jobs) as JSON
  -h, --help   this help

${CONNECTION_HELP}`;

const OPTIONS = { ...HELP_OPTION, ...CONNECTION_OPTIONS, json: { type: 'boolean' } } as const;

/** `GET /v1/jobs` (services/producer/README.md). */
export interface JobStatus {
  name: string;
  description: string | null;
  state: 'running' | 'idle' | 'restarting';
  every: string | null;
  nextRunAt: string | null;
  lastRun: {
    run: string;
    state: 'running' | 'exited';
    startedAt: string;
    durationMs: number | null;
    code: number | null;
    outcome: string | null;
  } | null;
}

const OUTCOME_STYLE: Readonly<Record<string, Style[]>> = {
  success: ['green'],
  failure: ['red'],
  timeout: ['yellow'],
  killed: ['yellow'],
  lost: ['yellow'],
};

export function jobRows(jobs: readonly JobStatus[], now: number): Cell[][] {
  return jobs.map((j) => {
    const last = j.lastRun;
    const outcome = last === null ? '' : last.state === 'running' ? 'running' : (last.outcome ?? '');
    return [
      { text: j.name, style: ['bold'] },
      { text: j.state, style: j.state === 'running' ? ['cyan'] : [] },
      { text: outcome, style: OUTCOME_STYLE[outcome] ?? [] },
      { text: last?.code === null || last?.code === undefined ? '' : String(last.code), right: true },
      { text: relativeTime(last?.startedAt, now) },
      { text: typeof last?.durationMs === 'number' ? formatDuration(last.durationMs) : '', right: true },
      { text: j.nextRunAt !== null ? relativeTime(j.nextRunAt, now) : j.every !== null ? `every ${j.every}` : '' },
      { text: j.description ?? '', style: ['dim'] },
    ];
  });
}

export const jobs = defineCommand({
  name: 'jobs',
  help: HELP,
  options: OPTIONS,
  positionals: false,
  async run(ctx, { values }) {
    const endpoints = resolveEndpoints(values, ctx.env);
    const reply = await requestJson<{ jobs: JobStatus[] }>(endpoints.api, '/v1/jobs', { token: endpoints.token, flag: '--api', signal: ctx.signal });
    if (values.json === true) {
      ctx.term.out(JSON.stringify(reply));
      return 0;
    }
    if (reply.jobs.length === 0) {
      ctx.term.err('megaphone: the producer has no jobs (PRODUCER_JOBS_FILE)');
      return 0;
    }
    printTable(ctx.term, ['JOB', 'STATE', 'LAST', 'EXIT', 'STARTED', 'TOOK', 'NEXT', 'DESCRIPTION'], jobRows(reply.jobs, Date.now()));
    return 0;
  },
});
