import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { TokenVerifier } from '@megaphone/auth';
import { TEST_SECRET } from '@megaphone/auth/testing';
import { authenticate, isLoopback, tokenMatches } from '../src/http/auth.js';
import { startProducer, type ProducerHandle } from '../src/producer.js';
import type { JobSpec } from '../src/jobs/jobs-file.js';
import { FlakyBus, http, job, memoryBus, pidAlive, published, sleep, testConfig, waitFor } from './helpers.js';

const TOKEN = 'test-token-0123456789abcdef';

async function withProducer(
  jobs: JobSpec[],
  env: Record<string, string>,
  fn: (p: ProducerHandle) => Promise<void>,
  opts: { bus?: FlakyBus | ReturnType<typeof memoryBus>; publishTimeoutMs?: number } = {},
): Promise<void> {
  const bus = opts.bus ?? memoryBus();
  const p = await startProducer({ config: testConfig(jobs, env), bus, tuning: { publishTimeoutMs: opts.publishTimeoutMs ?? 2000, busWatchMs: 20 } });
  try {
    await fn(p);
  } finally {
    await p.close();
    await bus.close();
  }
}

test('GET /v1/jobs lists the jobs with their state and last run', async () => {
  await withProducer([job('disk', ['true'], { everyMs: 60_000, timeoutMs: 5000, description: 'df' }), job('idle', ['true'])], {}, async (p) => {
    const r = await http(p.port, 'GET', '/v1/jobs');
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.jobs.map((j: any) => [j.name, j.channel, j.every, j.timeout, j.restart, j.state, j.lastRun, j.description]),
      [
        ['disk', 'cmd:disk', '1m', '5s', 'never', 'idle', null, 'df'],
        ['idle', 'cmd:idle', null, null, 'never', 'idle', null, null],
      ],
    );
    assert.equal(r.body.jobs[0].command, undefined, 'argv may hold secrets; it is not shown');
  });
});

test('runs: POST starts one (202), a second POST is 409, GET shows it, DELETE kills its group', async () => {
  await withProducer([job('sleepy', ['sh', '-c', 'sleep 1000 & echo $!; wait'])], {}, async (p) => {
    const start = await http(p.port, 'POST', '/v1/jobs/sleepy/runs');
    assert.equal(start.status, 202);
    assert.equal(start.body.channel, 'cmd:sleepy');
    const id = start.body.run as string;
    assert.equal(start.headers.get('location'), `/v1/runs/${id}`);
    const again = await http(p.port, 'POST', '/v1/jobs/sleepy/runs');
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'conflict');
    assert.equal(typeof again.body.error.message, 'string');
    const got = await http(p.port, 'GET', `/v1/runs/${id}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.state, 'running');
    assert.equal(got.body.job, 'sleepy');
    const lines = await waitFor('output', async () => (await published(p.bus, 'cmd:sleepy')).find((d) => d.stream === 'stdout')?.lines as string[] | undefined);
    const grandchild = Number(lines[0]);
    const pids = [got.body.pid as number, Number(grandchild)];
    assert.ok(pids.every(pidAlive));
    const del = await http(p.port, 'DELETE', `/v1/runs/${id}`);
    assert.equal(del.status, 202);
    assert.deepEqual(del.body, { run: id, state: 'stopping' });
    await waitFor('run exited', async () => (await http(p.port, 'GET', `/v1/runs/${id}`)).body.state === 'exited');
    await waitFor('group gone', () => pids.every((x) => !pidAlive(x)), { timeoutMs: 5000 });
    const after = await http(p.port, 'GET', `/v1/runs/${id}`);
    assert.equal(after.body.outcome, 'killed');
    assert.equal(after.body.stopped, true);
    assert.equal(typeof after.body.endedAt, 'string');
    assert.equal((await http(p.port, 'DELETE', `/v1/runs/${id}`)).status, 409);
    assert.equal((await http(p.port, 'GET', '/v1/runs/nope')).status, 404);
    assert.equal((await http(p.port, 'DELETE', '/v1/runs/nope')).status, 404);
    const unknown = await http(p.port, 'POST', '/v1/jobs/nope/runs');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'not_found');
    // The body of a run request is ignored: nothing from a client reaches argv or env.
    const withBody = await http(p.port, 'POST', '/v1/jobs/sleepy/runs', { body: { command: ['rm', '-rf', '/'], env: { X: '1' } } });
    assert.equal(withBody.status, 202);
  });
});

test('POST /v1/publish: one object → one position; an array → one position each, in order', async () => {
  await withProducer([], {}, async (p) => {
    const one = await http(p.port, 'POST', '/v1/publish', { body: { channel: 'news', data: { title: 'hi' } } });
    assert.equal(one.status, 200);
    assert.equal(one.body.channel, 'news');
    assert.equal(one.body.offset, 1);
    assert.equal(typeof one.body.epoch, 'string');
    const many = await http(p.port, 'POST', '/v1/publish', {
      body: [
        { channel: 'news', data: 2 },
        { channel: 'ns:other', data: null },
        { channel: 'news', data: [3] },
      ],
    });
    assert.equal(many.status, 200);
    assert.deepEqual(many.body.map((x: any) => [x.channel, x.offset]), [['news', 2], ['ns:other', 1], ['news', 3]]);
    assert.deepEqual(await published(p.bus, 'news'), [{ title: 'hi' }, 2, [3]]);
    assert.deepEqual(await published(p.bus, 'ns:other'), [null]);
  });
});

test('POST /v1/publish refuses bad requests with JSON errors and publishes nothing', async () => {
  await withProducer([], { PRODUCER_MAX_BODY_BYTES: '2048', MAX_PUBLICATION_BYTES: '100' }, async (p) => {
    const cases: [string, { body?: unknown; raw?: string; headers?: Record<string, string> }, number, string][] = [
      ['bad JSON', { raw: '{"channel":' }, 400, 'bad_request'],
      ['empty body', { raw: '' }, 400, 'bad_request'],
      ['not JSON content type', { raw: '{"channel":"a","data":1}', headers: { 'content-type': 'text/plain' } }, 415, 'unsupported_media_type'],
      ['body too large', { body: { channel: 'a', data: 'x'.repeat(3000) } }, 413, 'payload_too_large'],
      ['publication too large', { body: { channel: 'a', data: 'x'.repeat(200) } }, 413, 'payload_too_large'],
      ['bad channel', { body: { channel: 'no spaces', data: 1 } }, 400, 'bad_request'],
      ['channel too long', { body: { channel: 'a'.repeat(129), data: 1 } }, 400, 'bad_request'],
      ['missing data', { body: { channel: 'a' } }, 400, 'bad_request'],
      ['unknown field', { body: { channel: 'a', data: 1, extra: true } }, 400, 'bad_request'],
      ['empty array', { body: [] }, 400, 'bad_request'],
      ['one bad item in an array', { body: [{ channel: 'a', data: 1 }, { channel: '', data: 2 }] }, 400, 'bad_request'],
      ['not an object', { body: 42 }, 400, 'bad_request'],
    ];
    for (const [name, req, status, code] of cases) {
      const r = await http(p.port, 'POST', '/v1/publish', req);
      assert.equal(r.status, status, name);
      assert.equal(r.body.error.code, code, name);
      assert.ok(r.body.error.message.length > 0, name);
    }
    assert.deepEqual(await published(p.bus, 'a'), [], 'nothing was published');
  });
});

test('a chunked body (no Content-Length) is cut off at PRODUCER_MAX_BODY_BYTES with 413', async () => {
  await withProducer([], { PRODUCER_MAX_BODY_BYTES: '2048' }, async (p) => {
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: p.port, method: 'POST', path: '/v1/publish', headers: { 'content-type': 'application/json' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write('{"channel":"a","data":"');
      // Keeps sending far past the limit; the server answers without reading it all.
      let sent = 0;
      const more = (): void => {
        while (sent < 1_000_000) {
          sent += 16_384;
          if (!req.write('x'.repeat(16_384))) {
            req.once('drain', more);
            return;
          }
        }
        req.end('"}');
      };
      more();
    });
    assert.equal(reply.status, 413);
    assert.equal(JSON.parse(reply.body).error.code, 'payload_too_large');
    assert.deepEqual(await published(p.bus, 'a'), []);
  });
});

test('unknown paths are 404 and wrong methods 405 with Allow, as JSON errors', async () => {
  await withProducer([job('x', ['true'])], {}, async (p) => {
    const nf = await http(p.port, 'GET', '/v2/nothing');
    assert.equal(nf.status, 404);
    assert.equal(nf.body.error.code, 'not_found');
    const na = await http(p.port, 'PUT', '/v1/jobs');
    assert.equal(na.status, 405);
    assert.equal(na.body.error.code, 'method_not_allowed');
    assert.equal(na.headers.get('allow'), 'GET');
    assert.equal((await http(p.port, 'GET', '/v1/publish')).headers.get('allow'), 'POST');
    assert.equal((await http(p.port, 'GET', '/v1/jobs/x/runs')).status, 405);
  });
});

test('with PRODUCER_API_TOKEN, mutating requests need the bearer token; reads do not', async () => {
  await withProducer([job('x', ['true'])], { PRODUCER_API_TOKEN: TOKEN }, async (p) => {
    const none = await http(p.port, 'POST', '/v1/publish', { body: { channel: 'a', data: 1 } });
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'unauthorized');
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    const wrong = await http(p.port, 'POST', '/v1/jobs/x/runs', { headers: { authorization: `Bearer ${TOKEN}x` } });
    assert.equal(wrong.status, 401);
    const basic = await http(p.port, 'POST', '/v1/jobs/x/runs', { headers: { authorization: `Basic ${TOKEN}` } });
    assert.equal(basic.status, 401);
    assert.equal((await http(p.port, 'DELETE', '/v1/runs/abc')).status, 401, 'auth is checked before the run is looked up');
    const ok = await http(p.port, 'POST', '/v1/publish', { body: { channel: 'a', data: 1 }, headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
    const run = await http(p.port, 'POST', '/v1/jobs/x/runs', { headers: { authorization: `bearer ${TOKEN}` } });
    assert.equal(run.status, 202);
    assert.equal((await http(p.port, 'GET', '/v1/jobs')).status, 200);
    assert.equal((await http(p.port, 'GET', `/v1/runs/${run.body.run}`)).status, 200);
  });
});

test('without a token or key, mutating requests are accepted from loopback only', async () => {
  const off = new TokenVerifier({ publicChannels: [] });
  const req = (remoteAddress: string, authorization?: string): IncomingMessage =>
    ({ socket: { remoteAddress }, headers: authorization ? { authorization } : {} }) as unknown as IncomingMessage;
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) {
    assert.deepEqual(await authenticate(req(a), { apiToken: undefined, verifier: off }), { ok: true, caller: { kind: 'loopback' } }, a);
  }
  for (const a of ['10.0.0.5', '192.168.1.2', '::ffff:10.0.0.1', 'fe80::1']) {
    const r = await authenticate(req(a), { apiToken: undefined, verifier: off });
    assert.ok(!r.ok && r.status === 'forbidden', a);
  }
  // With a token, loopback is no excuse: the token is required from everywhere.
  assert.equal((await authenticate(req('127.0.0.1'), { apiToken: TOKEN, verifier: off })).ok, false);
  assert.deepEqual(await authenticate(req('10.0.0.5', `Bearer ${TOKEN}`), { apiToken: TOKEN, verifier: off }), { ok: true, caller: { kind: 'operator' } });
  // With a key, too.
  const on = new TokenVerifier({ publicChannels: [], secret: TEST_SECRET });
  const r = await authenticate(req('127.0.0.1'), { apiToken: undefined, verifier: on });
  assert.ok(!r.ok && r.status === 'unauthorized');
  assert.equal(isLoopback(undefined), false);
  assert.equal(tokenMatches('a', 'a'), true);
  assert.equal(tokenMatches('a', 'ab'), false);
});

test('while the bus is down: /readyz is 503 and publish answers 503 at once; both recover', async () => {
  const bus = new FlakyBus();
  await withProducer(
    [],
    {},
    async (p) => {
      assert.equal((await http(p.adminPort, 'GET', '/readyz')).status, 200);
      bus.down();
      const ready = await http(p.adminPort, 'GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.ok(ready.body.reasons.includes('bus not ready'));
      assert.equal((await http(p.adminPort, 'GET', '/healthz')).status, 200, 'liveness never depends on the bus');
      const pub = await http(p.port, 'POST', '/v1/publish', { body: { channel: 'a', data: 1 } });
      assert.equal(pub.status, 503);
      assert.equal(pub.body.error.code, 'unavailable');
      assert.match(pub.body.error.message, /bus is unavailable/);
      assert.equal(pub.headers.get('retry-after'), '1');
      bus.up();
      await waitFor('ready again', async () => (await http(p.adminPort, 'GET', '/readyz')).status === 200);
      assert.equal((await http(p.port, 'POST', '/v1/publish', { body: { channel: 'a', data: 2 } })).status, 200);
      assert.deepEqual(await published(bus, 'a'), [2]);
      const metrics = (await http(p.adminPort, 'GET', '/metrics')).body as string;
      assert.match(metrics, /megaphone_bus_reconnects_total\{[^}]*\} 1/);
    },
    { bus },
  );
});

test('a bus that stops answering makes publish reply 503 after a bounded wait, withdrawing what it can', async () => {
  const bus = new FlakyBus();
  await withProducer(
    [],
    {},
    async (p) => {
      bus.stall();
      const r = await http(p.port, 'POST', '/v1/publish', { body: [{ channel: 'a', data: 1 }, { channel: 'a', data: 2 }, { channel: 'a', data: 3 }] });
      assert.equal(r.status, 503);
      assert.match(r.body.error.message, /did not confirm within 300 ms; 2 of 3 publication\(s\) were withdrawn, 1 were already handed to the bus/);
      bus.up();
      await waitFor('the in-flight one lands', async () => (await published(bus, 'a')).length === 1);
      // Nothing is left in the outbox that could be published later.
      assert.equal(p.outbox.messages, 0, 'withdrawn publications are not published later');
      assert.deepEqual(await published(bus, 'a'), [1]);
    },
    { bus, publishTimeoutMs: 300 },
  );
});

test('/metrics exposes the producer and bus metrics; uptime is published', async () => {
  await withProducer([job('m', ['sh', '-c', 'echo a; echo b >&2'])], {}, async (p) => {
    await http(p.port, 'POST', '/v1/jobs/m/runs');
    await waitFor('run ended', () => p.jobs.list()[0]!.lastRun?.state === 'exited');
    await waitFor('uptime', async () => (await published(p.bus, 'uptime')).length >= 2);
    const up = (await published(p.bus, 'uptime')).at(-1)!;
    assert.deepEqual(Object.keys(up).sort(), ['producer', 'startedAt', 'uptimeSeconds']);
    assert.equal(up.producer, 'producer-test');
    assert.ok(!Number.isNaN(Date.parse(String(up.startedAt))));
    const text = (await http(p.adminPort, 'GET', '/metrics')).body as string;
    for (const name of [
      'megaphone_producer_runs_total',
      'megaphone_producer_runs_active',
      'megaphone_producer_lines_total',
      'megaphone_producer_publications_total',
      'megaphone_producer_publish_errors_total',
      'megaphone_producer_publish_latency_seconds',
      'megaphone_producer_outbox_bytes',
      'megaphone_producer_outbox_messages',
      'megaphone_producer_api_requests_total',
      'megaphone_bus_connected',
      'megaphone_bus_reconnects_total',
      'megaphone_bus_resubscribe_duration_seconds',
    ]) {
      assert.ok(text.includes(`# TYPE ${name} `), name);
    }
    assert.match(text, /megaphone_producer_runs_total\{[^}]*job_name="m"[^}]*outcome="success"[^}]*\} 1/);
    assert.match(text, /megaphone_producer_lines_total\{[^}]*stream="stderr"[^}]*\} 1/);
    assert.match(text, /megaphone_producer_api_requests_total\{[^}]*route="\/v1\/jobs\/\{name\}\/runs"[^}]*status="202"[^}]*\} 1/);
    assert.match(text, /megaphone_bus_connected\{[^}]*\} 1/);
  });
});

test('close() stops running commands (process groups) and flushes their exited events', async () => {
  const bus = memoryBus();
  const p = await startProducer({ config: testConfig([job('forever', ['sh', '-c', 'sleep 1000 & echo $!; wait'], { startOnBoot: true })]), bus });
  const pid = Number(await waitFor('pid', async () => ((await published(bus, 'cmd:forever')).find((d) => d.stream === 'stdout')?.lines as string[] | undefined)?.[0]));
  await p.close();
  await p.close();
  await waitFor('group gone', () => !pidAlive(pid), { timeoutMs: 5000 });
  const events = (await published(bus, 'jobs')).map((d) => d.event);
  assert.deepEqual(events, ['started', 'exited']);
  await bus.close();
});

test('close() ends even while a client keeps its keep-alive connection busy with requests', async () => {
  const p = await startProducer({ config: testConfig([]), bus: memoryBus(), tuning: { shutdownFlushMs: 200 } });
  let busy = true;
  const loop = (async () => {
    while (busy) {
      const body = JSON.stringify({ channel: 'news', data: 1 });
      await fetch(`http://127.0.0.1:${p.port}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then((r) => r.arrayBuffer()).catch(() => undefined);
      await sleep(50);
    }
  })();
  try {
    await waitFor('requests flowing', async () => (await http(p.adminPort, 'GET', '/metrics')).body.includes('route="/v1/publish"'));
    const t0 = Date.now();
    await p.close();
    assert.ok(Date.now() - t0 < 5000, `closed in ${Date.now() - t0} ms`);
  } finally {
    busy = false;
    await loop;
  }
});
