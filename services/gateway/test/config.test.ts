import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@megaphone/runtime';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOpenFileLimit } from '@megaphone/runtime';
import { FD_RESERVE, GATEWAY_ENV_NAMES, conflateMatcher, readGatewayConfig } from '../src/index.js';

test('defaults match the documented ones', () => {
  const c = readGatewayConfig({}, { fileLimit: undefined });
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.port, 8080);
  assert.equal(c.adminHost, '127.0.0.1', 'admin endpoints stay on loopback unless a deployment says otherwise');
  assert.equal(c.adminPort, 9100);
  assert.deepEqual(c.allowedOrigins, { kind: 'same-origin' });
  assert.equal(c.heartbeatMs, 25000);
  assert.equal(c.maxConnections, 50000);
  assert.equal(c.maxSubscriptions, 64);
  assert.equal(c.maxQueueBytes, 1048576);
  assert.equal(c.maxHistory, 1000);
  assert.equal(c.maxCommandsPerSecond, 50);
  assert.equal(c.maxChannelsPerMinute, 300);
  assert.equal(c.maxHistoryReadsPerConnection, 4);
  assert.equal(c.maxHistoryReads, 32);
  assert.equal(c.drainMs, 10000);
  assert.deepEqual(c.conflateChannels, ['uptime']);
  assert.equal(c.adminToken, undefined);
  assert.equal(c.presenceIntervalMs, 2000);
  assert.equal(c.maxConnectionsPerIp, 256);
  assert.equal(c.connectsPerIpPerSecond, 20);
  assert.deepEqual(c.trustedProxies, []);
  assert.equal(c.allowedHosts.kind, 'list');
  assert.deepEqual(c.auth, { publicChannels: [] });
  assert.equal(c.warnings.length, 2);
  assert.ok(c.warnings.some((w) => /ADMIN_TOKEN is unset.*loopback/.test(w)));
  assert.ok(c.warnings.some((w) => /no AUTH_JWT_SECRET.*every channel is readable by anyone/.test(w)));
  assert.equal(c.bus.kind, 'memory');
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.allowedOrigins));
});

test('origins: an exact list, or * with a warning', () => {
  const list = readGatewayConfig({ GATEWAY_ALLOWED_ORIGINS: 'https://a.example, http://localhost:8080' });
  assert.deepEqual(list.allowedOrigins, { kind: 'list', origins: ['https://a.example', 'http://localhost:8080'] });
  const any = readGatewayConfig({ GATEWAY_ALLOWED_ORIGINS: '*', ADMIN_TOKEN: 'an-admin-token-of-some-length' });
  assert.deepEqual(any.allowedOrigins, { kind: 'any' });
  assert.ok(any.warnings.some((w) => /GATEWAY_ALLOWED_ORIGINS=\*/.test(w)));
});

test('every problem is listed at once', () => {
  try {
    readGatewayConfig({
      GATEWAY_PORT: 'eighty',
      GATEWAY_HEARTBEAT_MS: '5',
      GATEWAY_MAX_CONNECTIONS: '0',
      GATEWAY_ALLOWED_ORIGINS: 'https://a.example/path,*',
      GATEWAY_CONFLATE_CHANNELS: 'bad name',
      LOG_LEVEL: 'loud',
      AUTH_JWT_SECRET: 'too-short',
      GATEWAY_TRUSTED_PROXIES: '10.0.0.0/8,10.0.0.0/33,proxy',
      GATEWAY_ALLOWED_HOSTS: 'https://gw.example',
      GATEWAY_MAX_CONNECTIONS_PER_IP: '0',
    });
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    const text = err.problems.join('\n');
    for (const name of [
      'GATEWAY_PORT', 'GATEWAY_HEARTBEAT_MS', 'GATEWAY_MAX_CONNECTIONS=', 'GATEWAY_ALLOWED_ORIGINS', 'GATEWAY_CONFLATE_CHANNELS', 'LOG_LEVEL',
      'AUTH_JWT_SECRET', 'GATEWAY_TRUSTED_PROXIES: .*10.0.0.0/33, proxy', 'GATEWAY_ALLOWED_HOSTS', 'GATEWAY_MAX_CONNECTIONS_PER_IP',
    ]) {
      assert.match(text, new RegExp(name), name);
    }
  }
  assert.throws(() => readGatewayConfig({ GATEWAY_ALLOWED_ORIGINS: 'example.com' }), ConfigError);
});

test('ADMIN_TOKEN and PRESENCE_INTERVAL_MS are validated', () => {
  const c = readGatewayConfig({ ADMIN_TOKEN: 'an-admin-token-of-some-length', PRESENCE_INTERVAL_MS: '500', AUTH_JWT_SECRET: 'x'.repeat(32) });
  assert.deepEqual([c.adminToken, c.presenceIntervalMs, c.warnings], ['an-admin-token-of-some-length', 500, []]);
  try {
    readGatewayConfig({ ADMIN_TOKEN: 'short', PRESENCE_INTERVAL_MS: '10' });
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.match(err.problems.join('\n'), /ADMIN_TOKEN must be 16/);
    assert.match(err.problems.join('\n'), /PRESENCE_INTERVAL_MS=10 is out of range/);
    assert.ok(!err.problems.join('\n').includes('short'), 'the token is never echoed');
  }
});

test('GATEWAY_ENV_NAMES lists every variable the parser accepts', () => {
  for (const name of [
    'NODE_NAME', 'LOG_LEVEL', 'REDIS_URL', 'REDIS_SENTINELS', 'REDIS_SENTINEL_NAME', 'REDIS_CLUSTER_NODES', 'REDIS_KEY_PREFIX',
    'HISTORY_SIZE', 'HISTORY_TTL_MS', 'CHANNEL_NAMESPACES', 'MAX_PUBLICATION_BYTES',
    'GATEWAY_HOST', 'GATEWAY_PORT', 'GATEWAY_ADMIN_HOST', 'GATEWAY_ADMIN_PORT', 'GATEWAY_ALLOWED_ORIGINS', 'GATEWAY_HEARTBEAT_MS',
    'GATEWAY_MAX_CONNECTIONS', 'GATEWAY_MAX_SUBSCRIPTIONS', 'GATEWAY_MAX_QUEUE_BYTES', 'GATEWAY_MAX_HISTORY',
    'GATEWAY_MAX_COMMANDS_PER_SECOND', 'GATEWAY_DRAIN_MS', 'GATEWAY_CONFLATE_CHANNELS', 'ADMIN_TOKEN', 'PRESENCE_INTERVAL_MS',
    'AUTH_JWT_SECRET', 'AUTH_JWT_SECRET_FILE', 'AUTH_JWKS_FILE', 'AUTH_ISSUER', 'AUTH_AUDIENCE', 'AUTH_PUBLIC_CHANNELS',
    'GATEWAY_ALLOWED_HOSTS', 'GATEWAY_MAX_CONNECTIONS_PER_IP', 'GATEWAY_CONNECTS_PER_IP_PER_SECOND', 'GATEWAY_TRUSTED_PROXIES',
  ]) {
    assert.ok(GATEWAY_ENV_NAMES.includes(name), name);
  }
  assert.ok(GATEWAY_ENV_NAMES.every((n) => !n.startsWith('PRODUCER_')));
});

test('conflated channels: exact names and whole namespaces', () => {
  const c = readGatewayConfig({ GATEWAY_CONFLATE_CHANNELS: 'uptime,metrics:*' });
  const conflate = conflateMatcher(c.conflateChannels);
  assert.equal(conflate('uptime'), true);
  assert.equal(conflate('metrics:cpu'), true);
  assert.equal(conflate('uptime2'), false);
  assert.equal(conflate('cmd:build'), false);
});

test('GATEWAY_MAX_CONNECTIONS defaults to the open-file limit minus the reserve, and warns when set above it', () => {
  assert.equal(FD_RESERVE, 512);
  assert.equal(readGatewayConfig({}, { fileLimit: 20_000 }).maxConnections, 19_488);
  assert.equal(readGatewayConfig({}, { fileLimit: 1_048_576 }).maxConnections, 1_048_064);
  assert.equal(readGatewayConfig({}, { fileLimit: 300 }).maxConnections, 1);
  const set = readGatewayConfig({ GATEWAY_MAX_CONNECTIONS: '50000' }, { fileLimit: 20_000 });
  assert.equal(set.maxConnections, 50_000);
  assert.match(set.warnings.join('\n'), /GATEWAY_MAX_CONNECTIONS \(50000\) is above the open-file limit \(20000\)/);
  assert.deepEqual(readGatewayConfig({ GATEWAY_MAX_CONNECTIONS: '1000', ADMIN_TOKEN: 'a'.repeat(32), AUTH_JWT_SECRET: 'x'.repeat(32) }, { fileLimit: 20_000 }).warnings, []);
});

test('the open-file limit is read from /proc (the soft limit)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'limits-'));
  const file = join(dir, 'limits');
  writeFileSync(file, 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            4096                 524288               files\n');
  assert.equal(readOpenFileLimit(file), 4096);
  writeFileSync(file, 'Max open files            unlimited            unlimited            files\n');
  assert.equal(readOpenFileLimit(file), Number.MAX_SAFE_INTEGER);
  assert.equal(readOpenFileLimit(join(dir, 'missing')), undefined);
  if (process.platform === 'linux') assert.ok((readOpenFileLimit() ?? 0) > 0);
});
