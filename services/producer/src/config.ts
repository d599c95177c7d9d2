import { fileURLToPath } from 'node:url';
import { readBusConfig, type BusConfig } from '@megaphone/bus';
import { authWarnings, readAllowedHosts, readAuthConfig, type AuthConfig, type HostPolicy } from '@megaphone/auth';
import { EnvReader, freeze, readCommonConfig, type CommonConfig, type Env } from '@megaphone/runtime';
import { loadJobsFile, type JobSpec } from './jobs/jobs-file.js';

/** The example jobs shipped with the package, resolved from the package (not the working directory). */
export const DEFAULT_JOBS_FILE = fileURLToPath(new URL('../../jobs.example.yaml', import.meta.url));

/** The producer's command (package.json `bin`), for launchers that start it as its own process. */
export const PRODUCER_BIN = fileURLToPath(new URL('../../bin/megaphone-producer.js', import.meta.url));

export interface ProducerConfig extends CommonConfig {
  bus: BusConfig;
  host: string;
  port: number;
  adminHost: string;
  adminPort: number;
  jobsFile: string;
  /** The jobs of `jobsFile`, validated at start. */
  jobs: readonly JobSpec[];
  /** Bearer token for mutating API calls; unset = loopback callers only. Never logged. */
  apiToken?: string;
  outboxMaxBytes: number;
  uptimeIntervalMs: number;
  maxBodyBytes: number;
  killGraceMs: number;
  /** JWT keys (shared with the gateway); `publish`/`run` claims grant API rights (SPEC §10). */
  auth: AuthConfig;
  /** `Host` names the API answers (DNS rebinding). */
  allowedHosts: HostPolicy;
  /** Things worth a warning at start. */
  warnings: readonly string[];
  /** PRODUCER_LEASE_MS: the leader lease's length (SPEC §12). */
  leaseMs: number;
}

function read(r: EnvReader, loadJobs: boolean): ProducerConfig {
  const common = readCommonConfig(r);
  const bus = readBusConfig(r);
  const host = r.str('PRODUCER_HOST', '0.0.0.0');
  const port = r.port('PRODUCER_PORT', 8090);
  const adminHost = r.str('PRODUCER_ADMIN_HOST', '127.0.0.1');
  const adminPort = r.port('PRODUCER_ADMIN_PORT', 9101);
  const jobsFile = r.str('PRODUCER_JOBS_FILE', DEFAULT_JOBS_FILE);
  const apiToken = r.str('PRODUCER_API_TOKEN');
  const outboxMaxBytes = r.int('PRODUCER_OUTBOX_MAX_BYTES', 8_388_608, { min: 65_536, max: 1_073_741_824 });
  const uptimeIntervalMs = r.int('PRODUCER_UPTIME_INTERVAL_MS', 1000, { min: 50, max: 3_600_000 });
  const maxBodyBytes = r.int('PRODUCER_MAX_BODY_BYTES', 1_048_576, { min: 1024, max: 268_435_456 });
  const killGraceMs = r.int('PRODUCER_KILL_GRACE_MS', 5000, { min: 0, max: 600_000 });
  const leaseMs = r.int('PRODUCER_LEASE_MS', 6000, { min: 1000, max: 300_000 });
  if (port !== 0 && port === adminPort) r.problem('PRODUCER_PORT and PRODUCER_ADMIN_PORT must differ');
  const warnings: string[] = [];
  const auth = readAuthConfig(r);
  warnings.push(...authWarnings(auth, 'no JWT is accepted, and every channel is readable by anyone who can reach a gateway with the same settings'));
  if (apiToken === undefined && auth.secret === undefined && auth.jwks === undefined) {
    warnings.push('PRODUCER_API_TOKEN is not set: mutating API requests (POST, DELETE) are accepted from loopback only');
  }
  const allowedHosts = readAllowedHosts(r, 'PRODUCER_ALLOWED_HOSTS', warnings);
  let jobs: JobSpec[] = [];
  if (loadJobs) {
    const loaded = loadJobsFile(jobsFile);
    for (const p of loaded.problems) r.problem(p);
    jobs = loaded.jobs;
  }
  r.done();
  return {
    ...common,
    bus,
    host,
    port,
    adminHost,
    adminPort,
    jobsFile,
    jobs,
    ...(apiToken !== undefined ? { apiToken } : {}),
    outboxMaxBytes,
    uptimeIntervalMs,
    maxBodyBytes,
    killGraceMs,
    auth,
    allowedHosts,
    warnings,
    leaseMs,
  };
}

/**
 * Reads the producer's settings and its jobs file once; throws a `ConfigError` listing every
 * problem (environment and jobs file together). The result is deeply frozen.
 */
export function readProducerConfig(env: Env = process.env): ProducerConfig {
  return freeze(read(new EnvReader(env), true));
}

function envNames(): readonly string[] {
  const r = new EnvReader({});
  try {
    read(r, false);
  } catch {
    // defaults never fail; the names are what matter here
  }
  return Object.freeze([...r.known].sort());
}

/** Every environment variable the producer reads (for checking deployment files against the parser). */
export const PRODUCER_ENV_NAMES: readonly string[] = envNames();
