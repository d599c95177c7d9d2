// The dependency rules `npm run lint` enforces (.dependency-cruiser.cjs), each shown to fire on a
// small tree that breaks it, and to stay quiet on what is allowed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { repoPath } from '../src/ops/paths.js';

const FILES: Record<string, string> = {
  'tsconfig.base.json': '{"compilerOptions":{"module":"NodeNext","moduleResolution":"NodeNext","strict":true}}',
  // A cycle.
  'packages/hub/src/a.ts': "import { b } from './b.js';\nexport const a = (): number => b() + 1;\n",
  'packages/hub/src/b.ts': "import { a } from './a.js';\nexport const b = (): number => (a.length > 5 ? 0 : 1);\n",
  // The hub may name the Bus type, not run bus code, and never open a socket.
  'packages/hub/src/uses-type.ts': "import type { Bus } from '../../bus/src/bus.js';\nexport type B = Bus;\n",
  'packages/hub/src/uses-impl.ts': "import { RedisBus } from '../../bus/src/redis-bus.js';\nexport const R = RedisBus;\n",
  'packages/hub/src/uses-net.ts': "import { connect } from 'node:net';\nexport const c = connect;\n",
  'packages/bus/src/bus.ts': 'export interface Bus { kind: string }\n',
  'packages/bus/src/redis-bus.ts': 'export class RedisBus {}\n',
  // Protocol imports nothing of ours.
  'packages/protocol/src/p.ts': "import type { Bus } from '../../bus/src/bus.js';\nexport type P = Bus;\n",
  'packages/protocol/src/fine.ts': "import { createHash } from 'node:crypto';\nexport const h = createHash;\n",
  // A service reaching into a package's files instead of its entry point.
  'services/gateway/src/g.ts': "import { RedisBus } from '../../../packages/bus/src/redis-bus.js';\nexport const G = RedisBus;\n",
};

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

test('npm run lint fails on an import cycle and on each broken package boundary', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lint-rules-'));
  try {
    for (const [name, text] of Object.entries(FILES)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    const cruise = (outputType: string) => spawnSync(process.execPath, [repoPath('node_modules/dependency-cruiser/bin/dependency-cruise.mjs'), '--config', repoPath('.dependency-cruiser.cjs'), '--output-type', outputType, 'packages', 'services'], { cwd: dir, encoding: 'utf8' });
    // What `npm run lint` runs (the `err` reporter) fails the command…
    assert.notEqual(cruise('err').status, 0, 'violations make the lint step fail');
    // …and names exactly these.
    const r = cruise('json');
    const found = (JSON.parse(r.stdout) as { summary: { violations: Violation[] } }).summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort();
    assert.deepEqual(found, [
      'hub-imports-no-bus-implementation: packages/hub/src/uses-impl.ts → packages/bus/src/redis-bus.ts',
      'hub-imports-no-transport: packages/hub/src/uses-net.ts → net',
      'no-cycle: packages/hub/src/a.ts → packages/hub/src/b.ts',
      'protocol-imports-nothing-of-ours: packages/protocol/src/p.ts → packages/bus/src/bus.ts',
      'workspaces-meet-at-entry-points: packages/hub/src/uses-impl.ts → packages/bus/src/redis-bus.ts',
      'workspaces-meet-at-entry-points: packages/hub/src/uses-type.ts → packages/bus/src/bus.ts',
      'workspaces-meet-at-entry-points: packages/protocol/src/p.ts → packages/bus/src/bus.ts',
      'workspaces-meet-at-entry-points: services/gateway/src/g.ts → packages/bus/src/redis-bus.ts',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
