import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, getText, waitFor } from './net.js';

export interface ScrapeJob {
  job: string;
  targets: string[];
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface RuleState {
  name: string;
  query: string;
  health: string;
  lastError?: string;
  lastEvaluation: string;
}

export interface RunningPrometheus {
  url: string;
  query(expr: string): Promise<PromSample[]>;
  /** Every loaded alerting/recording rule with its last evaluation's health. */
  rules(): Promise<RuleState[]>;
  stop(): Promise<void>;
}

/** The Debian `prometheus` binary with a throwaway config and data directory on a free port. */
export async function startPrometheus(jobs: ScrapeJob[], opts: { scrapeInterval?: string; ruleFiles?: string[] } = {}): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'megaphone-prom-'));
  const config = {
    global: { scrape_interval: opts.scrapeInterval ?? '1s', evaluation_interval: '5s' },
    ...(opts.ruleFiles ? { rule_files: opts.ruleFiles } : {}),
    scrape_configs: jobs.map((j) => ({ job_name: j.job, static_configs: [{ targets: j.targets }] })),
  };
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const child: ChildProcess = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('prometheus to be ready', async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${stderr}`);
      return (await getText(`${url}/-/ready`)).status === 200;
    }, { timeoutMs: 30_000 });
  } catch (err) {
    await stop();
    throw err;
  }
  const rules = async (): Promise<RuleState[]> => {
    const { status, text } = await getText(`${url}/api/v1/rules`);
    if (status !== 200) throw new Error(`rules: HTTP ${status} ${text}`);
    const body = JSON.parse(text) as { data: { groups: { rules: RuleState[] }[] } };
    return body.data.groups.flatMap((g) => g.rules);
  };
  return { url, query: (expr) => queryPrometheus(url, expr), rules, stop };
}

export async function queryPrometheus(url: string, expr: string): Promise<PromSample[]> {
  const { status, text } = await getText(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  if (status !== 200) throw new Error(`query ${expr}: HTTP ${status} ${text}`);
  const body = JSON.parse(text) as { status: string; data: { resultType: string; result: PromSample[] } };
  return body.data.result;
}
