import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { EnvReader } from '@megaphone/runtime';
import { waitFor } from '@megaphone/testing';
import { readAuthConfig, readAccess, TokenError, TokenVerifier, bearerToken, compilePatterns, isPatterns, type Patterns } from '../src/index.js';
import { TEST_SECRET, jwksOf, mintHs256, mintWith, testKeyPair, unsignedToken } from '../src/testing.js';

function verifier(env: Record<string, string>, opts: ConstructorParameters<typeof TokenVerifier>[1] = {}): TokenVerifier {
  const r = new EnvReader(env);
  const config = readAuthConfig(r);
  r.done();
  return new TokenVerifier(config, opts);
}

async function refused(v: TokenVerifier, token: string, reason: RegExp): Promise<void> {
  await assert.rejects(v.verify(token), (err: unknown) => err instanceof TokenError && reason.test(err.message));
}

function tmpFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'mp-auth-')), name);
  writeFileSync(path, text);
  return path;
}

test('an HS256 token yields its sub, expiry and claims (arrays or comma-separated strings)', async () => {
  const v = verifier({ AUTH_JWT_SECRET: TEST_SECRET });
  const p = await v.verify(await mintHs256({ sub: 'alice', channels: ['cmd:*', 'uptime'], publish: 'news, alerts', run: ['*'] }));
  assert.equal(p.sub, 'alice');
  assert.ok(p.expiresAt > Date.now() + 3500_000);
  assert.equal(p.validUntil, p.expiresAt + 30_000);
  assert.ok(p.channels.matches('cmd:build') && p.channels.matches('uptime') && !p.channels.matches('jobs'));
  assert.ok(p.publish.matches('alerts') && !p.publish.matches('uptime'));
  assert.ok(p.run.matches('anything'));
  const none = await v.verify(await mintHs256({ sub: 'bob' }));
  assert.ok(!none.channels.matches('uptime') && !none.run.matches('x'));
});

test('alg none is refused, with or without keys of every kind', async () => {
  const rsa = await testKeyPair('RS256', 'r1');
  for (const env of [{ AUTH_JWT_SECRET: TEST_SECRET } as Record<string, string>, { AUTH_JWKS_FILE: tmpFile('jwks.json', jwksOf(rsa)) }]) {
    await refused(verifier(env), unsignedToken({ sub: 'mallory', channels: ['*'] }), /algorithm is not accepted/);
  }
});

test('an HS256 token is refused when only public keys are configured', async () => {
  const rsa = await testKeyPair('RS256', 'r1');
  const v = verifier({ AUTH_JWKS_FILE: tmpFile('jwks.json', jwksOf(rsa)) });
  await refused(v, await mintHs256({ sub: 'mallory', channels: ['*'] }), /algorithm is not accepted/);
});

test('a public key used as an HMAC secret (algorithm confusion) is refused', async () => {
  const rsa = await testKeyPair('RS256', 'r1');
  const jwks = jwksOf(rsa);
  // The attacker knows the public key and signs HS256 with its bytes, naming the RSA key's kid.
  const forge = (secret: string): string => {
    const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const head = `${b64({ alg: 'HS256', kid: 'r1' })}.${b64({ sub: 'mallory', channels: ['*'], exp: Math.floor(Date.now() / 1000) + 600 })}`;
    return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
  };
  for (const secret of [jwks, JSON.stringify(rsa.publicJwk), String(rsa.publicJwk.n)]) {
    await refused(verifier({ AUTH_JWKS_FILE: tmpFile('jwks.json', jwks) }), forge(secret), /algorithm is not accepted/);
    await refused(verifier({ AUTH_JWKS_FILE: tmpFile('jwks.json', jwks), AUTH_JWT_SECRET: TEST_SECRET }), forge(secret), /signature/);
  }
});

test('RS256, ES256 and EdDSA tokens verify with the key their kid names, and only with it', async () => {
  const pairs = [await testKeyPair('RS256', 'rsa'), await testKeyPair('ES256', 'ec'), await testKeyPair('EdDSA', 'ed')];
  const v = verifier({ AUTH_JWKS_FILE: tmpFile('jwks.json', jwksOf(...pairs)) });
  for (const pair of pairs) assert.equal((await v.verify(await mintWith(pair, { sub: pair.kid }))).sub, pair.kid);
  // Signed by the EC key but naming the RSA key's kid (the EC key's own alg in the header).
  await refused(v, await mintWith(pairs[1]!, { sub: 'x' }, { header: { kid: 'rsa' } }), /no configured key/);
  // A key that is not in the set.
  const stranger = await testKeyPair('ES256', 'ec');
  await refused(v, await mintWith(stranger, { sub: 'x' }), /signature/);
  // An algorithm the set does not imply (RS384 with the RSA key).
  const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  await refused(v, await mintWith({ ...pairs[0]!, privateKey: rsaKey, alg: 'RS384' as never }, { sub: 'x' }), /algorithm is not accepted/);
});

test('exp is required; 30 s of skew are allowed and no more', async () => {
  const v = verifier({ AUTH_JWT_SECRET: TEST_SECRET });
  await refused(v, await mintHs256({ sub: 'a' }, { expiresIn: null }), /"exp" claim/);
  await refused(v, await mintHs256({ sub: 'a' }, { expiresIn: -31 }), /expired/);
  assert.equal((await v.verify(await mintHs256({ sub: 'a' }, { expiresIn: -25 }))).sub, 'a');
  const later = verifier({ AUTH_JWT_SECRET: TEST_SECRET }, { now: () => Date.now() + 3600_000 });
  await refused(later, await mintHs256({ sub: 'a' }, { expiresIn: 600 }), /expired/);
});

test('issuer and audience are checked when configured', async () => {
  const v = verifier({ AUTH_JWT_SECRET: TEST_SECRET, AUTH_ISSUER: 'https://idp', AUTH_AUDIENCE: 'megaphone' });
  assert.equal((await v.verify(await mintHs256({ sub: 'a' }, { issuer: 'https://idp', audience: 'megaphone' }))).sub, 'a');
  await refused(v, await mintHs256({ sub: 'a' }, { issuer: 'https://other', audience: 'megaphone' }), /"iss" claim/);
  await refused(v, await mintHs256({ sub: 'a' }, { issuer: 'https://idp' }), /"aud" claim/);
});

test('a token without sub, with a malformed claim, signed with another secret, or oversized is refused', async () => {
  const v = verifier({ AUTH_JWT_SECRET: TEST_SECRET });
  await refused(v, await mintHs256({ channels: ['*'] }), /"sub"/);
  await refused(v, await mintHs256({ sub: 'a', channels: ['bad pattern!'] }), /"channels" claim/);
  await refused(v, await mintHs256({ sub: 'a', run: [1, 2] }), /"run" claim/);
  await refused(v, await mintHs256({ sub: 'a' }, { secret: 'another-secret-that-is-long-enough-0123456789' }), /signature/);
  await refused(v, 'x'.repeat(9000), /characters/);
  await refused(v, 'not.a.jwt', /well-formed|not valid/);
});

test('a changed JWK Set file is picked up without a restart; a malformed one keeps the old keys', async () => {
  const first = await testKeyPair('ES256', 'k1');
  const second = await testKeyPair('EdDSA', 'k2');
  const file = tmpFile('jwks.json', jwksOf(first));
  const v = verifier({ AUTH_JWKS_FILE: file }, { jwksPollMs: 20 });
  try {
    const newToken = await mintWith(second, { sub: 'rotated' });
    await refused(v, newToken, /no configured key/);
    // Replaced the way secret mounts do it: a new file renamed over the old one.
    writeFileSync(`${file}.new`, jwksOf(second));
    renameSync(`${file}.new`, file);
    await waitFor('the new key', () => v.verify(newToken), { timeoutMs: 5000 });
    await refused(v, await mintWith(first, { sub: 'old' }), /no configured key/);
    writeFileSync(file, '{"keys": [');
    assert.equal(await v.reloadKeys(), false);
    assert.equal((await v.verify(newToken)).sub, 'rotated');
  } finally {
    v.close();
  }
});

test('read access: public channels need nothing, others a token whose channels cover them', async () => {
  const v = verifier({ AUTH_JWT_SECRET: TEST_SECRET, AUTH_PUBLIC_CHANNELS: 'uptime,news:*' });
  const p = await v.verify(await mintHs256({ sub: 'a', channels: ['cmd:a'] }));
  assert.equal(readAccess(v.publicPatterns, undefined, 'uptime'), 'ok');
  assert.equal(readAccess(v.publicPatterns, undefined, 'news:today'), 'ok');
  assert.equal(readAccess(v.publicPatterns, undefined, 'cmd:a'), 'unauthorized');
  assert.equal(readAccess(v.publicPatterns, p, 'cmd:a'), 'ok');
  assert.equal(readAccess(v.publicPatterns, p, 'cmd:b'), 'forbidden');
  const open = verifier({});
  assert.equal(open.enabled, false);
  assert.equal(readAccess(open.publicPatterns, undefined, 'cmd:secret'), 'ok');
  await assert.rejects(open.verify('x'), TokenError);
});

test('patterns: exact names, prefixes ending in *, and * alone; nothing else', () => {
  const p = compilePatterns(['build', 'cmd:deploy-*']) as Patterns;
  assert.ok(p.matches('build') && p.matches('cmd:deploy-prod') && !p.matches('builds') && !p.matches('cmd:build'));
  for (const bad of ['', 'a b', 'cmd:*:x', '**', 'a*b', 'x'.repeat(129)]) assert.ok(!isPatterns(compilePatterns([bad])), bad);
  assert.ok(!isPatterns(compilePatterns(Array.from({ length: 300 }, (_, i) => `c${i}`))));
});

test('bearer tokens are read from Authorization headers only in the Bearer form', () => {
  assert.equal(bearerToken('Bearer abc.def.ghi'), 'abc.def.ghi');
  assert.equal(bearerToken('bearer  abc '), 'abc');
  assert.equal(bearerToken('Basic abc'), undefined);
  assert.equal(bearerToken(undefined), undefined);
});
