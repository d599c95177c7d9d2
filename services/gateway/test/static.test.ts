import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveStaticPath } from '../src/http/static-files.js';
import { httpGet, startTestGateway } from './helpers.js';

test('static paths never leave the public directory', () => {
  const root = '/srv/public';
  assert.equal(resolveStaticPath(root, '/'), '/srv/public/index.html');
  assert.equal(resolveStaticPath(root, '/assets/app.js'), '/srv/public/assets/app.js');
  assert.equal(resolveStaticPath(root, '/a//b.js'), '/srv/public/a/b.js');
  for (const evil of ['/../etc/passwd', '/a/../b.js', '/..%2fetc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/a/%00.js', '/..\\etc', '/%E0%A4%A']) {
    assert.equal(resolveStaticPath(root, evil), undefined, evil);
  }
});

test('the console is served from dist/public with content types and cache headers; 404 otherwise', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gw-public-'));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>Megaphone</title>');
  await writeFile(join(dir, 'assets', 'app-3F2A1B9C.js'), 'console.log(1)');
  await writeFile(join(dir, 'style.css'), 'body{}');
  await writeFile(join(tmpdir(), 'gw-secret.txt'), 'secret');
  const t = await startTestGateway({}, { publicDir: dir });
  try {
    const index = await httpGet(`${t.base}/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(index.headers['cache-control'], 'no-cache');
    assert.match(index.body, /Megaphone/);
    const again = await httpGet(`${t.base}/`, { 'if-none-match': String(index.headers.etag) });
    assert.equal(again.status, 304);

    const js = await httpGet(`${t.base}/assets/app-3F2A1B9C.js`);
    assert.equal(js.status, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(String(js.headers['cache-control']), /immutable/);
    assert.equal((await httpGet(`${t.base}/style.css`)).headers['content-type'], 'text/css; charset=utf-8');

    const missing = await httpGet(`${t.base}/nope.js`);
    assert.equal(missing.status, 404);
    assert.equal((JSON.parse(missing.body) as { error: { code: string } }).error.code, 'not_found');
    assert.equal((await httpGet(`${t.base}/../gw-secret.txt`)).status, 404);
    assert.equal((await httpGet(`${t.base}/..%2fgw-secret.txt`)).status, 404);
    assert.equal((await httpGet(`${t.base}/assets`)).status, 404);
  } finally {
    await t.close();
    await rm(dir, { recursive: true, force: true });
    await rm(join(tmpdir(), 'gw-secret.txt'), { force: true });
  }
});

test('without a built console, / is a clean 404', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gw-empty-'));
  const t = await startTestGateway({}, { publicDir: dir });
  try {
    const r = await httpGet(`${t.base}/`);
    assert.equal(r.status, 404);
    assert.match(r.body, /not built/);
  } finally {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('oversized request headers get 431, not a hang', async () => {
  const t = await startTestGateway();
  try {
    const r = await httpGet(`${t.base}/`, { 'x-big': 'x'.repeat(10_000) });
    assert.equal(r.status, 431);
    assert.equal((await httpGet(`${t.base}/nope`)).status, 404, 'the server is fine afterwards');
  } finally {
    await t.close();
  }
});

test('the SDK bundle /client.js may be imported by pages of any origin; the console files may not', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gw-public-'));
  await writeFile(join(dir, 'client.js'), 'export const x = 1;');
  await writeFile(join(dir, 'app.js'), 'console.log(1)');
  const t = await startTestGateway({}, { publicDir: dir });
  try {
    const client = await httpGet(`${t.base}/client.js`, { origin: 'https://app.example.com' });
    assert.equal(client.status, 200);
    assert.equal(client.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(client.headers['access-control-allow-origin'], '*');
    assert.equal(client.headers['cross-origin-resource-policy'], 'cross-origin');
    const app = await httpGet(`${t.base}/app.js`, { origin: 'https://app.example.com' });
    assert.equal(app.status, 200);
    assert.equal(app.headers['access-control-allow-origin'], undefined);
  } finally {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  }
});
