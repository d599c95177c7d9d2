import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateKeyPairSync } from 'node:crypto';
import { ConfigError, EnvReader } from '@megaphone/runtime';
import { authEnabled, authWarnings, readAuthConfig } from '../src/index.js';
import { TEST_SECRET, jwksOf, testKeyPair } from '../src/testing.js';

function problems(env: Record<string, string>): string[] {
  const r = new EnvReader(env);
  readAuthConfig(r);
  try {
    r.done();
    return [];
  } catch (err) {
    return [...(err as ConfigError).problems];
  }
}

function file(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'mp-auth-cfg-')), name);
  writeFileSync(path, text);
  return path;
}

test('no key: authentication is off, with a warning', () => {
  const r = new EnvReader({ AUTH_PUBLIC_CHANNELS: 'uptime' });
  const config = readAuthConfig(r);
  r.done();
  assert.equal(authEnabled(config), false);
  const warnings = authWarnings(config, 'every channel is public');
  assert.match(warnings[0]!, /no AUTH_JWT_SECRET.*every channel is public/);
  assert.match(warnings[1]!, /AUTH_PUBLIC_CHANNELS has no effect/);
});

test('a secret shorter than 32 bytes, or given twice, is a listed problem', () => {
  assert.match(problems({ AUTH_JWT_SECRET: 'short' }).join(), /5 bytes; it must be at least 32/);
  const f = file('secret', `${TEST_SECRET}\n`);
  assert.match(problems({ AUTH_JWT_SECRET: TEST_SECRET, AUTH_JWT_SECRET_FILE: f }).join(), /cannot both be set/);
  assert.deepEqual(problems({ AUTH_JWT_SECRET_FILE: f }), []);
  const r = new EnvReader({ AUTH_JWT_SECRET_FILE: f });
  assert.equal(readAuthConfig(r).secret, TEST_SECRET, 'the trailing newline is not part of the secret');
  assert.match(problems({ AUTH_JWT_SECRET_FILE: '/nonexistent/secret' }).join(), /cannot read \/nonexistent\/secret \(ENOENT\)/);
});

test('an unreadable or malformed JWK Set is a listed problem', async () => {
  assert.match(problems({ AUTH_JWKS_FILE: '/nonexistent/jwks.json' }).join(), /cannot read/);
  assert.match(problems({ AUTH_JWKS_FILE: file('a.json', '{"keys": [') }).join(), /not valid JSON/);
  assert.match(problems({ AUTH_JWKS_FILE: file('b.json', '{"keys": []}') }).join(), /at least one key/);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const priv = { ...privateKey.export({ format: 'jwk' }), kid: 'p' };
  assert.match(problems({ AUTH_JWKS_FILE: file('c.json', JSON.stringify({ keys: [priv] })) }).join(), /private or symmetric key material/);
  assert.match(problems({ AUTH_JWKS_FILE: file('d.json', JSON.stringify({ keys: [{ kty: 'oct', k: 'abc', kid: 'o' }] })) }).join(), /private or symmetric/);
  const pair = await testKeyPair('RS256', 'r');
  assert.match(problems({ AUTH_JWKS_FILE: file('e.json', JSON.stringify({ keys: [{ ...pair.publicJwk, kid: undefined }] })) }).join(), /no "kid"/);
  assert.match(problems({ AUTH_JWKS_FILE: file('f.json', JSON.stringify({ keys: [{ ...pair.publicJwk, alg: 'HS256' }] })) }).join(), /"alg" is HS256/);
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
  assert.match(problems({ AUTH_JWKS_FILE: file('g.json', JSON.stringify({ keys: [{ ...p384, kid: 'x' }] })) }).join(), /curve P-384/);
  assert.match(problems({ AUTH_JWKS_FILE: file('h.json', JSON.stringify({ keys: [{ ...pair.publicJwk, n: undefined }] })) }).join(), /not a valid RS256 public key/);
  assert.deepEqual(problems({ AUTH_JWKS_FILE: file('ok.json', jwksOf(pair)) }), []);
});

test('AUTH_PUBLIC_CHANNELS must be patterns', () => {
  assert.match(problems({ AUTH_PUBLIC_CHANNELS: 'uptime,bad name' }).join(), /AUTH_PUBLIC_CHANNELS.*bad name/);
});
