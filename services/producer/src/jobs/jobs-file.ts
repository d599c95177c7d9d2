import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { formatDuration, parseDuration } from './duration.js';

export type RestartPolicy = 'never' | 'on-failure' | 'always';
export const RESTART_POLICIES: readonly RestartPolicy[] = ['never', 'on-failure', 'always'];

/** One job of the jobs file (SPEC §5), validated. Everything here comes from the operator, never a client. */
export interface JobSpec {
  /** `[a-z0-9-]{1,64}`; the job publishes on `cmd:<name>`. */
  readonly name: string;
  readonly description?: string;
  /** argv, run without a shell. */
  readonly command: readonly string[];
  /** Run every this many ms (a tick that finds the job running is skipped). */
  readonly everyMs?: number;
  /** Kill the run's process group after this many ms. */
  readonly timeoutMs?: number;
  readonly restart: RestartPolicy;
  /** Absolute (relative paths in the file are resolved against the file's folder). */
  readonly cwd?: string;
  /** The child's whole environment besides `PATH` (which it may override). */
  readonly env: Readonly<Record<string, string>>;
  /** Longer lines are cut to this many bytes (at a character boundary) and flagged `truncated`. */
  readonly maxLineBytes: number;
  /** Run once when the producer starts. Defaults to true. */
  readonly startOnBoot: boolean;
}

export const JOB_NAME_RE = /^[a-z0-9-]{1,64}$/;
export const DEFAULT_MAX_LINE_BYTES = 16_384;
const MAX_LINE_BYTES_LIMIT = 1_048_576;
/** setTimeout's ceiling (~24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const JOB_KEYS = ['name', 'description', 'command', 'every', 'timeout', 'restart', 'cwd', 'env', 'maxLineBytes', 'startOnBoot'];

export interface JobsFileResult {
  jobs: JobSpec[];
  /** Every problem found, each naming the file, the job and the field. Empty when the file is valid. */
  problems: string[];
}

/** Reads and validates a jobs file. Never throws: problems are collected so that all are reported at once. */
export function loadJobsFile(file: string): JobsFileResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { jobs: [], problems: [`jobs file ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`] };
  }
  return parseJobsFile(text, file);
}

export function parseJobsFile(text: string, file: string): JobsFileResult {
  const problems: string[] = [];
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      // With prettyErrors the first line of the message already says "at line L, column C".
      problems.push(`jobs file ${file}: ${e.message.split('\n')[0]!.replace(/:$/, '')}`);
    }
    return { jobs: [], problems };
  }
  const root: unknown = doc.toJS();
  const fileProblem = (msg: string): void => void problems.push(`jobs file ${file}: ${msg}`);
  if (root === null || root === undefined) {
    fileProblem('is empty; expected `jobs:` with a list of jobs');
    return { jobs: [], problems };
  }
  if (!isRecord(root)) {
    fileProblem('must be a mapping with a `jobs` list');
    return { jobs: [], problems };
  }
  for (const k of Object.keys(root)) if (k !== 'jobs') fileProblem(`unknown top-level field "${k}" (only "jobs" is allowed)`);
  const list = root.jobs;
  if (list === null || list === undefined) return { jobs: [], problems };
  if (!Array.isArray(list)) {
    fileProblem('field "jobs" must be a list');
    return { jobs: [], problems };
  }
  const jobs: JobSpec[] = [];
  const seen = new Set<string>();
  list.forEach((item: unknown, i) => {
    const job = validateJob(item, i, file, problems, seen);
    if (job !== undefined) jobs.push(job);
  });
  return { jobs: problems.length === 0 ? jobs : [], problems };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validateJob(item: unknown, index: number, file: string, problems: string[], seen: Set<string>): JobSpec | undefined {
  const rawName = isRecord(item) && typeof item.name === 'string' ? item.name : undefined;
  const label = `jobs file ${file}: job ${rawName !== undefined ? `"${rawName}" ` : ''}(jobs[${index}])`;
  const before = problems.length;
  const bad = (field: string, msg: string): void => void problems.push(`${label}: field "${field}" ${msg}`);
  if (!isRecord(item)) {
    problems.push(`${label}: must be a mapping with at least "name" and "command"`);
    return undefined;
  }
  for (const k of Object.keys(item)) if (!JOB_KEYS.includes(k)) bad(k, `is not a job field (known: ${JOB_KEYS.join(', ')})`);

  const name = item.name;
  if (typeof name !== 'string' || !JOB_NAME_RE.test(name)) bad('name', 'must be 1–64 characters of a-z 0-9 -');
  else if (seen.has(name)) bad('name', `"${name}" is used by an earlier job; names must be unique`);
  else seen.add(name);

  const description = item.description;
  if (description !== undefined && typeof description !== 'string') bad('description', 'must be a string');

  const command = item.command;
  if (!Array.isArray(command) || command.length === 0) {
    bad('command', 'must be a non-empty list of strings (argv, run without a shell), e.g. ["df", "-h"]');
  } else {
    command.forEach((a: unknown, j) => {
      if (typeof a !== 'string') bad(`command[${j}]`, 'must be a string');
      else if (a.includes('\0')) bad(`command[${j}]`, 'must not contain NUL');
    });
    if (command[0] === '') bad('command[0]', 'must name a program');
  }

  const duration = (field: string, min: number): number | undefined => {
    const v = item[field];
    if (v === undefined || v === null) return undefined;
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined) bad(field, `${JSON.stringify(v)} is not a duration like 500ms, 30s, 5m, 1h`);
    else if (ms < min || ms > MAX_TIMER_MS) bad(field, `must be between ${formatDuration(min)} and ${formatDuration(MAX_TIMER_MS)}`);
    else return ms;
    return undefined;
  };
  const everyMs = duration('every', 100);
  const timeoutMs = duration('timeout', 10);

  let restart: RestartPolicy = 'never';
  if (item.restart !== undefined) {
    if (typeof item.restart === 'string' && (RESTART_POLICIES as readonly string[]).includes(item.restart)) restart = item.restart as RestartPolicy;
    else bad('restart', `${JSON.stringify(item.restart)} must be one of ${RESTART_POLICIES.join(', ')}`);
  }

  let cwd: string | undefined;
  if (item.cwd !== undefined) {
    if (typeof item.cwd !== 'string' || item.cwd === '') bad('cwd', 'must be a path');
    else {
      cwd = isAbsolute(item.cwd) ? item.cwd : resolve(dirname(resolve(file)), item.cwd);
      let isDir = false;
      try {
        isDir = statSync(cwd).isDirectory();
      } catch {
        // reported below
      }
      if (!isDir) bad('cwd', `${JSON.stringify(item.cwd)} is not an existing directory`);
    }
  }

  const env: Record<string, string> = {};
  if (item.env !== undefined && item.env !== null) {
    if (!isRecord(item.env)) bad('env', 'must be a mapping of variable names to values');
    else {
      for (const [k, v] of Object.entries(item.env)) {
        if (!ENV_NAME_RE.test(k)) bad(`env.${k}`, 'is not a valid variable name');
        else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') env[k] = String(v);
        else bad(`env.${k}`, 'must be a string, number or boolean');
      }
    }
  }

  let maxLineBytes = DEFAULT_MAX_LINE_BYTES;
  if (item.maxLineBytes !== undefined) {
    const v = item.maxLineBytes;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 16 || v > MAX_LINE_BYTES_LIMIT) {
      bad('maxLineBytes', `must be an integer from 16 to ${MAX_LINE_BYTES_LIMIT}`);
    } else maxLineBytes = v;
  }

  let startOnBoot = true;
  if (item.startOnBoot !== undefined) {
    if (typeof item.startOnBoot !== 'boolean') bad('startOnBoot', 'must be true or false');
    else startOnBoot = item.startOnBoot;
  }

  if (problems.length > before) return undefined;
  return {
    name: name as string,
    ...(typeof description === 'string' ? { description } : {}),
    command: (command as string[]).slice(),
    ...(everyMs !== undefined ? { everyMs } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    restart,
    ...(cwd !== undefined ? { cwd } : {}),
    env,
    maxLineBytes,
    startOnBoot,
  };
}
