import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readProducerConfig } from '../src/config.js';
import { JobManager } from '../src/jobs/job-manager.js';
import { Recorder, silentLogger, waitFor } from './helpers.js';

test('the example jobs run on a plain Linux box: endless ticker, periodic, coloured, failing', async () => {
  const { jobs: specs } = readProducerConfig({});
  const rec = new Recorder();
  const jobs = new JobManager({ jobs: specs, run: rec.context, logger: silentLogger });
  try {
    const ticker = specs.find((j) => j.restart === 'always' && j.everyMs === undefined)!;
    const t = jobs.startRun(ticker.name, 'api');
    assert.ok(t.ok);
    await waitFor('two ticks', () => rec.lines(ticker.name).length >= 2, { timeoutMs: 5000 });
    assert.match(rec.lines(ticker.name)[0]!, /^tick 1 \d\d:\d\d:\d\d$/);
    assert.equal(t.run.stop(), true);

    const results = new Map<string, { code: number | null; lines: string[]; errors: string[] }>();
    for (const spec of specs.filter((j) => j !== ticker)) {
      const r = jobs.startRun(spec.name, 'api');
      assert.ok(r.ok, spec.name);
      const s = await r.run.ended;
      results.set(spec.name, { code: s.code, lines: rec.lines(spec.name, s.run), errors: rec.lines(spec.name, s.run, 'stderr') });
    }
    const all = [...results.values()];
    assert.ok(all.some((r) => r.code === 0 && r.lines.length > 0), 'a periodic job prints something');
    assert.ok(all.some((r) => r.lines.some((l) => l.includes('\u001b['))), 'a job prints ANSI colours');
    assert.ok(all.some((r) => r.code === 3 && r.errors.length > 0), 'a job fails with exit 3 and says why on stderr');
  } finally {
    await jobs.close(3000);
  }
});
