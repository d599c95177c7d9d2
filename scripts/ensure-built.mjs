#!/usr/bin/env node
// Builds the workspace when it needs it, so that `npm start` works right after `npm install`.
// `tsc -b` is incremental (a second or two when nothing changed). In a pruned production image
// (no TypeScript) the existing build output is used as is.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const built = existsSync(join(root, 'services/gateway/dist/src/main.js')) && existsSync(join(root, 'services/gateway/dist/public/index.html'));

if (!existsSync(tsc)) {
  if (!built) {
    console.error('megaphone: not built and TypeScript is not installed; run `npm install` first');
    process.exit(1);
  }
  process.exit(0);
}
const run = (args) => {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
run([tsc, '-b', 'services/standalone']);
if (!existsSync(join(root, 'services/gateway/dist/public/index.html'))) {
  run([join(root, 'services/gateway/console/build.mjs')]);
}
