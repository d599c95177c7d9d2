import { httpErrorBody, jobChannel } from '@megaphone/protocol';
import { HttpError } from './http-util.js';
import type { JobManager } from '../jobs/job-manager.js';

/** The job and run requests of the API (SPEC §5), as data: answered here or by the leader. */
export type RunsRequest = { op: 'list' } | { op: 'start'; job: string } | { op: 'get'; run: string } | { op: 'stop'; run: string };

/** An HTTP answer as data, so a standby can give exactly the leader's answer. */
export interface ApiReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export type RunsHandler = (req: RunsRequest) => Promise<ApiReply>;

export function errorReply(err: HttpError): ApiReply {
  return { status: err.status, body: httpErrorBody(err.code, err.message), headers: err.headers };
}

/** Answers from this producer's own job manager (the leader's answers). */
export function localRuns(jobs: JobManager): (req: RunsRequest) => ApiReply {
  const answer = (req: RunsRequest): ApiReply => {
    switch (req.op) {
      case 'list':
        return { status: 200, body: { jobs: jobs.list() } };
      case 'get': {
        const run = jobs.getRun(req.run);
        if (run === undefined) throw new HttpError('not_found', 'no such run (finished runs are kept for a while, not forever)');
        return { status: 200, body: run.summary() };
      }
      case 'start': {
        const name = req.job;
        const r = jobs.startRun(name, 'api');
        if (r.ok) return { status: 202, body: { run: r.run.id, channel: jobChannel(name) }, headers: { location: `/v1/runs/${r.run.id}` } };
        if (r.reason === 'not_found') throw new HttpError('not_found', `no job named "${name.slice(0, 64)}"`);
        if (r.reason === 'running') throw new HttpError('conflict', `job "${name}" is already running; one run per job at a time`);
        if (r.reason === 'standby') throw new HttpError('unavailable', 'this producer is not the leader and no leader answered; retry', { 'retry-after': '1' });
        throw new HttpError('unavailable', 'the producer is shutting down');
      }
      case 'stop': {
        const r = jobs.stopRun(req.run);
        if (r === 'not_found') throw new HttpError('not_found', 'no such run');
        if (r === 'finished') throw new HttpError('conflict', 'the run has already ended');
        return { status: 202, body: { run: req.run, state: 'stopping' } };
      }
    }
  };
  return (req) => {
    try {
      return answer(req);
    } catch (err) {
      if (err instanceof HttpError) return errorReply(err);
      throw err;
    }
  };
}

/** A request the control channel may carry (validated: it comes from Redis). */
export function parseRunsRequest(value: unknown): RunsRequest | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v.op === 'list') return { op: 'list' };
  if (v.op === 'start' && typeof v.job === 'string' && v.job.length <= 256) return { op: 'start', job: v.job };
  if ((v.op === 'get' || v.op === 'stop') && typeof v.run === 'string' && v.run.length <= 256) return { op: v.op, run: v.run };
  return undefined;
}
