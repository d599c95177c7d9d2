import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { test } from 'node:test';
import { ConfigError, EnvReader } from '@megaphone/runtime';
import { defaultHostNames, hostAllowed, hostnameOf, isSameOrigin, readAllowedHosts, type HostPolicy } from '../src/index.js';

function policy(value: string | undefined, warnings: string[] = []): HostPolicy {
  const r = new EnvReader(value === undefined ? {} : { X_ALLOWED_HOSTS: value });
  const p = readAllowedHosts(r, 'X_ALLOWED_HOSTS', warnings);
  r.done();
  return p;
}

test('by default only loopback names and the machine’s own names are answered', () => {
  const p = policy(undefined);
  for (const ok of ['localhost:8080', '127.0.0.1', '[::1]:8080', `${hostname()}:8080`, 'LOCALHOST']) assert.ok(hostAllowed(p, ok), ok);
  for (const bad of ['evil.example:8080', 'localhost.evil.example', undefined, '', 'a b']) assert.ok(!hostAllowed(p, bad), String(bad));
  assert.ok(defaultHostNames().includes('127.0.0.1'));
});

test('a list takes names, addresses, subdomain wildcards and "default"; "*" is a warning', () => {
  const p = policy('megaphone.example.com, *.internal, 10.0.0.5, [fd00::1], default');
  for (const ok of ['megaphone.example.com', 'megaphone.example.com.', 'a.b.internal:80', '10.0.0.5:8080', '[fd00::1]:1', 'localhost:1']) assert.ok(hostAllowed(p, ok), ok);
  assert.ok(!hostAllowed(p, 'internal'));
  assert.ok(!hostAllowed(policy('megaphone.example.com'), 'localhost'));
  const warnings: string[] = [];
  assert.ok(hostAllowed(policy('*', warnings), 'anything'));
  assert.match(warnings[0]!, /DNS rebinding/);
  assert.throws(() => policy('http://x.example'), (err: unknown) => err instanceof ConfigError && /not a host name/.test(err.message));
  assert.throws(() => policy('*,localhost'), ConfigError);
});

test('host names are read without port and brackets', () => {
  assert.equal(hostnameOf('Example.COM:8080'), 'example.com');
  assert.equal(hostnameOf('[::1]:80'), '::1');
  assert.equal(hostnameOf('[::1]x'), undefined);
  assert.equal(hostnameOf('a:b:c'), undefined);
});

test('same origin means the same scheme, host and port', () => {
  assert.ok(isSameOrigin('http://localhost:8080', 'http', 'localhost:8080'));
  assert.ok(isSameOrigin('https://example.com', 'https', 'example.com:443'));
  assert.ok(!isSameOrigin('https://localhost:8080', 'http', 'localhost:8080'));
  assert.ok(!isSameOrigin('http://localhost:8081', 'http', 'localhost:8080'));
  assert.ok(!isSameOrigin('http://localhost', 'http', 'localhost:8080'));
  assert.ok(!isSameOrigin('null', 'http', 'localhost'));
  assert.ok(!isSameOrigin('http://localhost:8080', 'http', undefined));
});
