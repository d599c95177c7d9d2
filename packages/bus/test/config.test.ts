import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, EnvReader, freeze } from '@megaphone/runtime';
import { parseRedisUrl, readBusConfig } from '../src/config.js';

function read(env: Record<string, string>) {
  const r = new EnvReader(env);
  const cfg = readBusConfig(r);
  r.done();
  return cfg;
}

function problems(env: Record<string, string>): readonly string[] {
  try {
    read(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
    return err.problems;
  }
  assert.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('bus configuration', () => {
  it('defaults to the embedded bus', () => {
    assert.deepEqual(read({}), { kind: 'memory' });
  });

  it('parses REDIS_URL once into host, port, credentials, db and TLS', () => {
    assert.deepEqual(read({ REDIS_URL: 'redis://r:6380/2' }), { kind: 'redis', keyPrefix: 'mp', mode: 'standalone', host: 'r', port: 6380, db: 2 });
    assert.deepEqual(read({ REDIS_URL: 'redis://r' }), { kind: 'redis', keyPrefix: 'mp', mode: 'standalone', host: 'r', port: 6379 });
    assert.deepEqual(read({ REDIS_URL: 'rediss://al%40ce:p%3Ass@redis.example.com:6380/' }), {
      kind: 'redis', keyPrefix: 'mp', mode: 'standalone', host: 'redis.example.com', port: 6380,
      username: 'al@ce', password: 'p:ss', tls: { servername: 'redis.example.com' },
    });
    // SNI takes names only: an IP address gets TLS without a servername.
    assert.deepEqual(parseRedisUrl('rediss://[::1]:7000'), { host: '::1', port: 7000, tls: {} });
    assert.deepEqual(parseRedisUrl('redis://:secret@10.0.0.1'), { host: '10.0.0.1', port: 6379, password: 'secret' });
  });

  it('reads each Redis topology; with Sentinel or Cluster the URL gives only credentials, TLS and db', () => {
    assert.deepEqual(read({ REDIS_SENTINELS: 's1:26379, s2:26380', REDIS_SENTINEL_NAME: 'mymaster', REDIS_URL: 'rediss://:pw@ignored.example/1' }), {
      kind: 'redis', keyPrefix: 'mp', mode: 'sentinel', name: 'mymaster', password: 'pw', db: 1, tls: { servername: 'ignored.example' },
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }],
    });
    assert.deepEqual(read({ REDIS_CLUSTER_NODES: 'a:7000,[::1]:7001', REDIS_KEY_PREFIX: 'x' }), {
      kind: 'redis', keyPrefix: 'x', mode: 'cluster', nodes: [{ host: 'a', port: 7000 }, { host: '::1', port: 7001 }],
    });
  });

  // Each of these once passed validation (or threw a raw TypeError) and failed later, at connect time.
  const bad: Array<[string, Record<string, string>, RegExp]> = [
    ['a port above 65535', { REDIS_URL: 'redis://host:99999' }, /REDIS_URL is not a valid URL/],
    ['a port that is not a number', { REDIS_URL: 'redis://host:abc' }, /REDIS_URL is not a valid URL/],
    ['port 0', { REDIS_URL: 'redis://host:0' }, /REDIS_URL: port 0/],
    ['another scheme', { REDIS_URL: 'http://x' }, /REDIS_URL must start with redis:\/\/ or rediss:\/\//],
    ['no scheme', { REDIS_URL: 'localhost:6379' }, /REDIS_URL must start with/],
    ['no host', { REDIS_URL: 'redis://' }, /REDIS_URL names no host/],
    ['a space in the host', { REDIS_URL: 'redis://my host:6379' }, /REDIS_URL is not a valid URL/],
    ['a path that is not a db number', { REDIS_URL: 'redis://host/zero' }, /database number/],
    ['a query string', { REDIS_URL: 'redis://host?tls=true' }, /query strings/],
    ['a malformed %-escape in the password', { REDIS_URL: 'redis://:%E0%A4%A@host' }, /malformed %-escape/],
    ['a db other than 0 on Cluster', { REDIS_CLUSTER_NODES: 'a:7000', REDIS_URL: 'redis://x/3' }, /only database 0/],
    ['a node without a port', { REDIS_CLUSTER_NODES: 'a' }, /REDIS_CLUSTER_NODES: "a" is not host:port/],
    ['a node port above 65535', { REDIS_CLUSTER_NODES: 'a:70000' }, /REDIS_CLUSTER_NODES: "a:70000"/],
    ['a Sentinel port 0', { REDIS_SENTINELS: 's:0', REDIS_SENTINEL_NAME: 'm' }, /REDIS_SENTINELS: "s:0"/],
    ['Sentinels without a name', { REDIS_SENTINELS: 's:26379' }, /REDIS_SENTINELS needs REDIS_SENTINEL_NAME/],
    ['a name without Sentinels', { REDIS_SENTINEL_NAME: 'm' }, /REDIS_SENTINEL_NAME is set without/],
    ['Sentinel credentials without Sentinels', { REDIS_SENTINEL_PASSWORD: 'p' }, /REDIS_SENTINEL_USERNAME\/REDIS_SENTINEL_PASSWORD/],
    ['both Sentinel and Cluster', { REDIS_SENTINELS: 's:1', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'a:1' }, /cannot both be set/],
    ['a bad key prefix', { REDIS_KEY_PREFIX: 'has space' }, /REDIS_KEY_PREFIX/],
    ['a meta TTL below a minute', { REDIS_URL: 'redis://r', REDIS_META_TTL_MS: '5' }, /REDIS_META_TTL_MS=5 is out of range/],
    ['a CA file that does not exist', { REDIS_URL: 'rediss://r', REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' }, /REDIS_TLS_CA_FILE/],
  ];
  for (const [what, env, message] of bad) {
    it(`lists ${what} as a configuration problem`, () => {
      const p = problems(env);
      assert.ok(p.some((x) => message.test(x)), `${message} not in ${p.join(' | ')}`);
    });
  }

  it('never repeats a password in a problem', () => {
    const p = problems({ REDIS_URL: 'redis://:hunter2@host:99999' });
    assert.ok(!p.join('\n').includes('hunter2'), p.join('\n'));
  });

  it('lists every problem at once', () => {
    const p = problems({ REDIS_URL: 'redis://host:99999', REDIS_SENTINELS: 'nohost', REDIS_KEY_PREFIX: 'a b' });
    for (const name of ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_SENTINEL_NAME', 'REDIS_KEY_PREFIX']) {
      assert.ok(p.some((x) => x.includes(name)), `${name} missing from ${p.join(' | ')}`);
    }
  });

  it('freezes deeply with the service configuration', () => {
    const cfg = freeze(read({ REDIS_CLUSTER_NODES: 'a:1' }));
    assert.throws(() => {
      (cfg as { kind: string }).kind = 'memory';
    });
  });

  it('records the names it reads, for deployment-file checks', () => {
    const r = new EnvReader({});
    readBusConfig(r);
    for (const n of ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES', 'REDIS_TLS_CA_FILE', 'REDIS_META_TTL_MS']) assert.ok(r.known.has(n), n);
  });
});
