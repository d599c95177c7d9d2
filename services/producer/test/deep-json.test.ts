import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenVerifier } from '@megaphone/auth';
import type { Logger } from '@megaphone/runtime';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../src/http/json-depth.js';
import { createApiServer, listen } from '../src/http/http-api.js';
import { http, memoryBus } from './helpers.js';

test('nesting depth is counted over arrays and objects, never inside strings', () => {
  assert.equal(nestsDeeperThan('[[[]]]', 3), false);
  assert.equal(nestsDeeperThan('[[[[]]]]', 3), true);
  assert.equal(nestsDeeperThan('{"a":{"b":[1]}}', 3), false);
  assert.equal(nestsDeeperThan(JSON.stringify({ s: '[[[[[[["\\' }), 2), false);
  assert.equal(nestsDeeperThan(`{"data":${'['.repeat(MAX_JSON_DEPTH - 1)}${']'.repeat(MAX_JSON_DEPTH - 1)}}`, MAX_JSON_DEPTH), false);
});

test('100,000-deep nested data is answered 400 and nothing is logged at error level', async () => {
  const errors: unknown[] = [];
  const ignore = (): void => undefined;
  const logger = { error: (...args: unknown[]) => errors.push(args), warn: ignore, info: ignore, debug: ignore } as unknown as Logger;
  const bus = memoryBus();
  const server = createApiServer({
    runs: () => assert.fail('no job or run request is made'),
    outbox: { isFull: () => false, enqueue: () => assert.fail('nothing may be published') } as never,
    bus,
    apiToken: undefined,
    verifier: new TokenVerifier({ publicChannels: [] }),
    allowedHosts: { kind: 'any' },
    jobOfRun: () => undefined,
    maxBodyBytes: 1_048_576,
    maxPublicationBytes: 65_536,
    publishTimeoutMs: 1000,
    logger,
  });
  const port = await listen(server, 0, '127.0.0.1');
  try {
    const deep = 100_000;
    const raw = `{"channel":"a","data":${'['.repeat(deep)}${']'.repeat(deep)}}`;
    const r = await http(port, 'POST', '/v1/publish', { raw });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'bad_request');
    assert.match(r.body.error.message, /deeper than 128 levels/);
    assert.deepEqual(errors, [], 'nothing logged at error level');
  } finally {
    server.close();
    await bus.close();
  }
});
