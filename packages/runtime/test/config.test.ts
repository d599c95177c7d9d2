import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, EnvReader, readCommonConfig, historyPolicyFor, freeze } from '../src/index.js';

function read(env: Record<string, string>) {
  const r = new EnvReader(env);
  const cfg = readCommonConfig(r);
  r.done();
  return cfg;
}

function problems(env: Record<string, string>): readonly string[] {
  try {
    read(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('common configuration', () => {
  it('defaults to the embedded bus', () => {
    const cfg = read({});
    assert.deepEqual(cfg.bus, { kind: 'memory' });
    assert.equal(cfg.logLevel, 'info');
    assert.deepEqual(cfg.namespaces[''], { historySize: 1000, historyTtlMs: 3_600_000 });
  });

  it('reads each Redis topology', () => {
    assert.deepEqual(read({ REDIS_URL: 'redis://r:6379/0' }).bus, { kind: 'redis', keyPrefix: 'mp', mode: 'standalone', url: 'redis://r:6379/0' });
    assert.deepEqual(read({ REDIS_SENTINELS: 's1:26379, s2:26380', REDIS_SENTINEL_NAME: 'mymaster' }).bus, {
      kind: 'redis', keyPrefix: 'mp', mode: 'sentinel', name: 'mymaster',
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }],
    });
    assert.deepEqual(read({ REDIS_CLUSTER_NODES: 'a:7000,[::1]:7001', REDIS_KEY_PREFIX: 'x' }).bus, {
      kind: 'redis', keyPrefix: 'x', mode: 'cluster', nodes: [{ host: 'a', port: 7000 }, { host: '::1', port: 7001 }],
    });
  });

  it('lists every problem at once', () => {
    const p = problems({
      LOG_LEVEL: 'loud',
      REDIS_URL: 'http://x',
      HISTORY_SIZE: 'many',
      HISTORY_TTL_MS: '5',
      REDIS_SENTINELS: 'nohost',
      CHANNEL_NAMESPACES: '{"cmd":{"historySize":-1},"a b":{}}',
    });
    assert.ok(p.length >= 6, p.join('\n'));
    for (const name of ['LOG_LEVEL', 'REDIS_URL', 'HISTORY_SIZE', 'HISTORY_TTL_MS', 'REDIS_SENTINELS', 'REDIS_SENTINEL_NAME', 'CHANNEL_NAMESPACES']) {
      assert.ok(p.some((x) => x.includes(name)), `${name} missing from ${p.join(' | ')}`);
    }
  });

  it('resolves history per namespace, falling back to the default', () => {
    const cfg = read({ HISTORY_SIZE: '10', CHANNEL_NAMESPACES: '{"cmd":{"historySize":5000,"historyTtlMs":86400000}}' });
    const policy = historyPolicyFor(cfg.namespaces);
    assert.deepEqual(policy('cmd:build'), { size: 5000, ttlMs: 86_400_000 });
    assert.deepEqual(policy('uptime'), { size: 10, ttlMs: 3_600_000 });
    assert.deepEqual(policy('other:x'), { size: 10, ttlMs: 3_600_000 });
  });

  it('freezes configuration deeply', () => {
    const cfg = freeze(read({ REDIS_CLUSTER_NODES: 'a:1' }));
    assert.throws(() => {
      (cfg.bus as { kind: string }).kind = 'memory';
    });
  });

  it('records the names it reads, for deployment-file checks', () => {
    const r = new EnvReader({});
    readCommonConfig(r);
    for (const n of ['REDIS_URL', 'NODE_NAME', 'LOG_LEVEL', 'CHANNEL_NAMESPACES']) assert.ok(r.known.has(n), n);
  });
});
