import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { mintToken, signingSecret } from '../src/commands/token.js';
import { UsageError } from '../src/usage.js';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';

test('a minted token verifies with the same secret and carries exactly the claims given', async () => {
  const now = Math.floor(Date.now() / 1000);
  const jwt = await mintToken({ sub: 'alice', channels: ['cmd:*', 'uptime'], run: ['deploy'], ttlSeconds: 3600 }, SECRET, now);
  assert.deepEqual(decodeProtectedHeader(jwt), { alg: 'HS256', typ: 'JWT' });
  const { payload } = await jwtVerify(jwt, new TextEncoder().encode(SECRET), { algorithms: ['HS256'] });
  assert.deepEqual(payload, { sub: 'alice', channels: ['cmd:*', 'uptime'], run: ['deploy'], iat: now, exp: now + 3600 });
  await assert.rejects(jwtVerify(jwt, new TextEncoder().encode(`${SECRET}x`)));
});

test('issuer and audience go into the token when configured', async () => {
  const jwt = await mintToken({ sub: 'bob', ttlSeconds: 60, issuer: 'megaphone', audience: 'gateways' }, SECRET);
  const { payload } = await jwtVerify(jwt, new TextEncoder().encode(SECRET), { issuer: 'megaphone', audience: 'gateways' });
  assert.equal(payload.sub, 'bob');
});

test('the secret comes from AUTH_JWT_SECRET or its file (one trailing newline dropped), at least 32 bytes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'megaphone-token-'));
  try {
    const file = join(dir, 'secret');
    await writeFile(file, `${SECRET}\n`);
    assert.equal(signingSecret({ jwtSecret: undefined, jwtSecretFile: file }), SECRET);
    assert.equal(signingSecret({ jwtSecret: SECRET, jwtSecretFile: undefined }), SECRET);
    assert.throws(() => signingSecret({ jwtSecret: 'short', jwtSecretFile: undefined }), (e: unknown) => e instanceof UsageError && /at least 32/.test(e.message));
    assert.throws(() => signingSecret({ jwtSecret: undefined, jwtSecretFile: undefined }), /set AUTH_JWT_SECRET/);
    assert.throws(() => signingSecret({ jwtSecret: SECRET, jwtSecretFile: file }), /cannot both be set/);
    assert.throws(() => signingSecret({ jwtSecret: undefined, jwtSecretFile: join(dir, 'missing') }), /cannot read .*ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
