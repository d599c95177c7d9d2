import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { WeightedHistogram } from '../src/weighted-histogram.js';

test('a weighted observation counts as n observations in the exposition (and prom-client still reads it)', async () => {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'gateway', node: 'gw-t' });
  const h = new WeightedHistogram({ name: 'test_latency_seconds', help: 'test', buckets: [0.01, 0.1, 1], registers: [registry] });
  h.observeMany(0.005, 1000);
  h.observeMany(0.1, 10); // le is inclusive
  h.observeMany(5, 2);
  h.observe(0.05);
  h.observeMany(0.05, 0);
  h.observeMany(Number.NaN, 3);
  const text = await registry.metrics();
  const line = (suffix: string): number => {
    const l = text.split('\n').find((x) => x.startsWith(`test_latency_seconds${suffix}`));
    assert.ok(l !== undefined, `missing ${suffix} in\n${text}`);
    return Number(l.slice(l.lastIndexOf(' ') + 1));
  };
  assert.match(text, /^# TYPE test_latency_seconds histogram$/m);
  assert.equal(line('_bucket{le="0.01",service="gateway",node="gw-t"}'), 1000);
  assert.equal(line('_bucket{le="0.1",service="gateway",node="gw-t"}'), 1011);
  assert.equal(line('_bucket{le="1",service="gateway",node="gw-t"}'), 1011);
  assert.equal(line('_bucket{le="+Inf",service="gateway",node="gw-t"}'), 1013);
  assert.equal(line('_count{'), 1013);
  assert.ok(Math.abs(line('_sum{') - (5 + 1 + 10 + 0.05)) < 1e-9);
  const json = await registry.getMetricsAsJSON();
  assert.equal(json[0]!.type, 'histogram');
  h.reset();
  assert.equal(Number(/test_latency_seconds_count\{[^}]*\} (\S+)/.exec(await registry.metrics())![1]), 0);
});
