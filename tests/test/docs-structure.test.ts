// The shape of the tree held true (tests/src/docs/structure.ts): READMEs name their workspace's
// files, docs name no source file that is gone, no source file over 400 lines. Each check is also
// run on a small tree that breaks it, so a check that stopped seeing anything would fail here.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { libraryWorkspaces, longSourceFiles, MAX_SOURCE_LINES, readmeNames, readmeProblems, staleDocPaths } from '../src/docs/structure.js';
import { ROOT } from '../src/ops/paths.js';

describe('the repository', () => {
  it('names every source file of each package and service in its README, and no file that is gone', () => {
    const workspaces = libraryWorkspaces(ROOT);
    assert.ok(workspaces.includes('packages/bus') && workspaces.includes('services/gateway'), `workspaces found: ${workspaces.join(', ')}`);
    const problems = workspaces.map((ws) => readmeProblems(ROOT, ws)).filter((p) => p !== undefined);
    assert.deepEqual(problems, []);
  });

  it('names in its Markdown only source files that exist', () => {
    assert.deepEqual(staleDocPaths(ROOT), []);
  });

  it(`has no source file over ${MAX_SOURCE_LINES} lines`, () => {
    assert.deepEqual(longSourceFiles(ROOT), []);
  });
});

describe('the checks, on a tree that breaks them', () => {
  const root = mkdtempSync(join(tmpdir(), 'mp-structure-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'packages/a/package.json': '{}',
    'packages/a/README.md': '| `src/index.ts` | exports |\n| `redis/lease.ts` | leases |\n`src/old.ts` was moved; `src/parts/*.ts` are the parts; runs `dist/src/main.js`\n',
    'packages/a/src/index.ts': 'export {};\n',
    'packages/a/src/lease.ts': 'export {};\n',
    'packages/a/src/redis/lease.ts': 'export {};\n',
    'packages/a/src/parts/one.ts': 'export {};\n',
    'packages/b/package.json': '{}',
    'packages/b/src/main.ts': 'export {};\n',
    'packages/not-a-workspace/src/x.ts': 'export {};\n',
    'docs/guide.md': 'See `services/s/src/gone.ts`, `services/s/src/here.ts`, `services/*/src/here.ts` and `services/s/dist/src/built.js`.\n',
    'services/s/package.json': '{}',
    'services/s/README.md': '```\nsrc/here.ts   at the limit\nsrc/long.mjs  past it\n```\n',
    'services/s/src/here.ts': `${'// line\n'.repeat(MAX_SOURCE_LINES)}`,
    'services/s/src/long.mjs': `${'// line\n'.repeat(MAX_SOURCE_LINES + 1)}`,
    'services/s/node_modules/dep/huge.js': `${'// line\n'.repeat(MAX_SOURCE_LINES * 2)}`,
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }

  it('finds the workspaces by their package.json', () => {
    assert.deepEqual(libraryWorkspaces(root), ['packages/a', 'packages/b', 'services/s']);
  });

  it('reports unnamed files, named files that are gone, and a workspace without a README', () => {
    // A glob (`src/parts/*.ts`) is a true path but names no file: a new file in that folder would go unnoticed.
    assert.deepEqual(readmeProblems(root, 'packages/a'), { workspace: 'packages/a', noReadme: false, unnamed: ['src/lease.ts', 'src/parts/one.ts'], gone: ['src/old.ts'] });
    assert.deepEqual(readmeProblems(root, 'packages/b'), { workspace: 'packages/b', noReadme: true, unnamed: ['src/main.ts'], gone: [] });
    assert.equal(readmeProblems(root, 'services/s'), undefined, 'a README naming every file is fine (the long file is another rule)');
  });

  it('takes a file as named by its path with or without src/, never by the tail of a longer path', () => {
    assert.ok(readmeNames('| `hub.ts` | the registry |', 'src/hub.ts'));
    assert.ok(readmeNames('src/ws/ws-client.ts  one WebSocket', 'src/ws/ws-client.ts'));
    assert.ok(readmeNames('(`ws/ws-client.ts`)', 'src/ws/ws-client.ts'));
    assert.ok(!readmeNames('src/ws-client.ts', 'src/ws/ws-client.ts'));
    assert.ok(!readmeNames('`redis/lease.ts`', 'src/lease.ts'));
    assert.ok(!readmeNames('`memory-lease.ts`', 'src/lease.ts'));
    assert.ok(!readmeNames('services/gateway/src/ws-frame.ts', 'src/ws-frame.ts'));
    assert.ok(!readmeNames('`lease.tsx`', 'src/lease.ts'));
  });

  it('reports source paths in Markdown that do not exist, ignoring dist/', () => {
    assert.deepEqual(staleDocPaths(root), [{ doc: 'docs/guide.md', path: 'services/s/src/gone.ts' }]);
  });

  it(`reports source files over ${MAX_SOURCE_LINES} lines, outside node_modules`, () => {
    assert.deepEqual(longSourceFiles(root), [{ path: 'services/s/src/long.mjs', lines: MAX_SOURCE_LINES + 1 }]);
  });
});
