import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// @megaphone/client as npm would publish it: `npm pack --dry-run` lists exactly what goes in the
// tarball. It must hold the compiled SDK with its types, the browser bundle and the README, and
// nothing from tests; every `exports` target must be in it. Its dependency @megaphone/protocol too.

const root = fileURLToPath(new URL('../../../', import.meta.url));

interface PackEntry {
  name: string;
  files: { path: string }[];
}
interface Manifest {
  private?: boolean;
  type?: string;
  exports: Record<string, string | Record<string, string>>;
  dependencies?: Record<string, string>;
}

function ensureBrowserBundle(): void {
  if (existsSync(`${root}packages/client/dist/browser/megaphone-client.js`)) return;
  const r = spawnSync(process.execPath, [`${root}packages/client/scripts/bundle.mjs`], { stdio: 'inherit' });
  assert.equal(r.status, 0, 'bundling the SDK failed');
}

function pack(workspace: string): { files: string[]; manifest: Manifest } {
  // --ignore-scripts: list what is built (npm test builds first), do not rebuild in the test.
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: `${root}${workspace}`, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const [entry] = JSON.parse(r.stdout) as PackEntry[];
  return { files: entry!.files.map((f) => f.path).sort(), manifest: JSON.parse(readFileSync(`${root}${workspace}/package.json`, 'utf8')) as Manifest };
}

function exportTargets(manifest: Manifest): string[] {
  return Object.values(manifest.exports)
    .flatMap((v) => (typeof v === 'string' ? [v] : Object.values(v)))
    .map((p) => p.replace(/^\.\//, ''));
}

test('@megaphone/client packs the SDK, its types, the browser bundle and the README, and nothing from tests', () => {
  ensureBrowserBundle();
  const { files, manifest } = pack('packages/client');
  assert.notEqual(manifest.private, true, 'publishable');
  assert.equal(manifest.type, 'module');
  for (const f of ['package.json', 'README.md', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/client.js', 'dist/src/client.d.ts', 'dist/browser/megaphone-client.js']) {
    assert.ok(files.includes(f), `${f} is in the package`);
  }
  for (const target of exportTargets(manifest)) assert.ok(files.includes(target), `exports target ${target} is in the package`);
  assert.deepEqual(files.filter((f) => /(^|\/)test(\/|$)|\.test\.|tsbuildinfo|scripts\//.test(f)), [], 'no tests, build info or build scripts');
  // Every compiled module it ships imports only its own files or a declared dependency.
  for (const f of files.filter((p) => p.startsWith('dist/src/') && p.endsWith('.js'))) {
    const source = readFileSync(`${root}packages/client/${f}`, 'utf8');
    for (const m of source.matchAll(/from '([^']+)'/g)) {
      const spec = m[1]!;
      assert.ok(spec.startsWith('./') || spec in (manifest.dependencies ?? {}), `${f} imports ${spec}`);
    }
  }
  // The browser bundle stands alone: no import left for a browser to resolve.
  assert.doesNotMatch(readFileSync(`${root}packages/client/dist/browser/megaphone-client.js`, 'utf8'), /\bimport\s*[{("'*]|from\s*["']/);
});

test('@megaphone/protocol, its dependency, is publishable the same way', () => {
  const { files, manifest } = pack('packages/protocol');
  assert.notEqual(manifest.private, true);
  for (const target of exportTargets(manifest)) assert.ok(files.includes(target), `exports target ${target} is in the package`);
  assert.ok(files.includes('README.md'));
  assert.deepEqual(files.filter((f) => /(^|\/)test(\/|$)|\.test\./.test(f)), []);
});
