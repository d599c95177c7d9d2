import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { TEST_SECRET, mintHs256 } from '@megaphone/auth/testing';
import { startProducer, type ProducerHandle } from '../src/producer.js';
import { http, job, memoryBus, published, testConfig } from './helpers.js';

const OPERATOR = 'operator-token-0123456789abcdef';

async function withProducer(env: Record<string, string>, fn: (p: ProducerHandle) => Promise<void>): Promise<void> {
  const bus = memoryBus();
  const p = await startProducer({ config: testConfig([job('build', ['sleep', '5']), job('deploy', ['sleep', '5'])], env), bus });
  try {
    await fn(p);
  } finally {
    await p.close();
    await bus.close();
  }
}

/** fetch does not let a caller choose `Host`; an attacker's browser sends its own name there. */
function withHost(port: number, method: string, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { host, 'content-type': 'application/json' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

test('a JWT publishes to the channels of its publish claim only; 401 without a valid token, 403 outside the claim', async () => {
  await withProducer({ AUTH_JWT_SECRET: TEST_SECRET, PRODUCER_API_TOKEN: OPERATOR }, async (p) => {
    const token = await mintHs256({ sub: 'ci', publish: ['news:*'] });
    const ok = await http(p.port, 'POST', '/v1/publish', { body: { channel: 'news:today', data: { n: 1 } }, headers: bearer(token) });
    assert.equal(ok.status, 200);
    const forged = await http(p.port, 'POST', '/v1/publish', { body: { channel: 'uptime', data: { uptimeSeconds: 1e9 } }, headers: bearer(token) });
    assert.equal(forged.status, 403);
    assert.equal(forged.body.error.code, 'forbidden');
    const mixed = await http(p.port, 'POST', '/v1/publish', { body: [{ channel: 'news:a', data: 1 }, { channel: 'other', data: 2 }], headers: bearer(token) });
    assert.equal(mixed.status, 403, 'a batch is all or nothing');
    assert.deepEqual(await published(p.bus, 'news:a'), []);
    const expired = await mintHs256({ sub: 'ci', publish: ['*'] }, { expiresIn: -60 });
    const r = await http(p.port, 'POST', '/v1/publish', { body: { channel: 'news:a', data: 1 }, headers: bearer(expired) });
    assert.equal(r.status, 401);
    assert.match(r.body.error.message, /expired/);
    assert.equal((await http(p.port, 'POST', '/v1/publish', { body: { channel: 'news:a', data: 1 } })).status, 401);
    // The operator's token stays all-powerful.
    assert.equal((await http(p.port, 'POST', '/v1/publish', { body: { channel: 'uptime', data: 1 }, headers: bearer(OPERATOR) })).status, 200);
  });
});

test('a JWT starts and stops the runs of the jobs in its run claim only', async () => {
  await withProducer({ AUTH_JWT_SECRET: TEST_SECRET }, async (p) => {
    const builder = await mintHs256({ sub: 'dev', run: 'build' });
    const reader = await mintHs256({ sub: 'viewer', channels: ['*'] });
    assert.equal((await http(p.port, 'POST', '/v1/jobs/deploy/runs', { headers: bearer(builder) })).status, 403);
    assert.equal((await http(p.port, 'POST', '/v1/jobs/build/runs', { headers: bearer(reader) })).status, 403);
    const started = await http(p.port, 'POST', '/v1/jobs/build/runs', { headers: bearer(builder) });
    assert.equal(started.status, 202);
    const admin = await mintHs256({ sub: 'root', run: ['*'] });
    const deploy = await http(p.port, 'POST', '/v1/jobs/deploy/runs', { headers: bearer(admin) });
    assert.equal(deploy.status, 202);
    assert.equal((await http(p.port, 'DELETE', `/v1/runs/${deploy.body.run}`, { headers: bearer(builder) })).status, 403);
    assert.equal((await http(p.port, 'DELETE', `/v1/runs/${started.body.run}`, { headers: bearer(reader) })).status, 403);
    assert.equal((await http(p.port, 'DELETE', `/v1/runs/${started.body.run}`, { headers: bearer(builder) })).status, 202);
    assert.equal((await http(p.port, 'DELETE', '/v1/runs/nope', { headers: bearer(builder) })).status, 404);
    // With a key configured, loopback alone is not enough any more.
    assert.equal((await http(p.port, 'POST', '/v1/jobs/build/runs')).status, 401);
  });
});

test('a cross-site page cannot drive the API: text/plain POSTs, foreign origins and preflights are refused', async () => {
  await withProducer({}, async (p) => {
    // What a form or a no-cors fetch from any web page sends to a loopback producer.
    const plain = await http(p.port, 'POST', '/v1/jobs/build/runs', { raw: '', headers: { 'content-type': 'text/plain' } });
    assert.equal(plain.status, 415);
    const forged = await http(p.port, 'POST', '/v1/publish', { raw: '{"channel":"uptime","data":1}', headers: { 'content-type': 'text/plain;charset=UTF-8' } });
    assert.equal(forged.status, 415);
    assert.deepEqual((await published(p.bus, 'uptime')).filter((d) => (d as unknown) === 1), []);
    const foreign = await http(p.port, 'POST', '/v1/jobs/build/runs', { headers: { origin: 'https://evil.example' } });
    assert.equal(foreign.status, 403);
    const preflight = await http(p.port, 'OPTIONS', '/v1/publish', { headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(preflight.status, 403);
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
    const own = await http(p.port, 'OPTIONS', '/v1/publish', { headers: { origin: `http://127.0.0.1:${p.port}` } });
    assert.equal(own.status, 204);
    assert.equal(own.headers.get('access-control-allow-origin'), null, 'no CORS allowance, ever');
    assert.equal((await http(p.port, 'POST', '/v1/jobs/build/runs', { headers: { origin: `http://127.0.0.1:${p.port}` } })).status, 202);
  });
});

test('the API answers only the host names it serves (DNS rebinding)', async () => {
  await withProducer({}, async (p) => {
    assert.equal(await withHost(p.port, 'GET', '/v1/jobs', 'rebind.attacker.example'), 403);
    assert.equal(await withHost(p.port, 'POST', '/v1/jobs/build/runs', `rebind.attacker.example:${p.port}`), 403);
    assert.equal(await withHost(p.port, 'GET', '/v1/jobs', `localhost:${p.port}`), 200);
  });
  await withProducer({ PRODUCER_ALLOWED_HOSTS: 'producer' }, async (p) => {
    assert.equal(await withHost(p.port, 'GET', '/v1/jobs', 'producer:8090'), 200);
    assert.equal(await withHost(p.port, 'GET', '/v1/jobs', `127.0.0.1:${p.port}`), 403);
  });
});
