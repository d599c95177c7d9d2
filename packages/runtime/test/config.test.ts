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
  it('defaults', () => {
    const cfg = read({});
    assert.equal(cfg.logLevel, 'info');
    assert.deepEqual(cfg.namespaces[''], { historySize: 1000, historyTtlMs: 3_600_000 });
  });

  it('lists every problem at once', () => {
    const p = problems({
      LOG_LEVEL: 'loud',
      HISTORY_SIZE: 'many',
      HISTORY_TTL_MS: '5',
      CHANNEL_NAMESPACES: '{"cmd":{"historySize":-1},"a b":{}}',
    });
    assert.ok(p.length >= 5, p.join('\n'));
    for (const name of ['LOG_LEVEL', 'HISTORY_SIZE', 'HISTORY_TTL_MS', 'CHANNEL_NAMESPACES']) {
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
    const cfg = freeze(read({ CHANNEL_NAMESPACES: '{"cmd":{"historySize":5}}' }));
    assert.throws(() => {
      (cfg.namespaces['cmd'] as { historySize: number }).historySize = 1;
    });
  });

  it('records the names it reads, for deployment-file checks', () => {
    const r = new EnvReader({});
    readCommonConfig(r);
    for (const n of ['NODE_NAME', 'LOG_LEVEL', 'CHANNEL_NAMESPACES']) assert.ok(r.known.has(n), n);
  });
});
