#!/usr/bin/env node
// The `megaphone` command (linked at the repository root by `npm install`: `npx megaphone …`).
// In a source checkout it builds the CLI first when its build output is missing or older than its
// sources (or the client SDK's), so the command works right after `npm install`; then it runs it.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(pkg, 'dist', 'src', 'main.js');
// tsc -b rewrites only the outputs that changed, but always its build info: that is the build's time.
const buildInfo = join(pkg, 'dist', 'tsconfig.tsbuildinfo');

function newest(dir) {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

const sources = [join(pkg, 'src'), join(pkg, '..', 'client', 'src'), join(pkg, '..', 'protocol', 'src')];
const builtAt = existsSync(main) && existsSync(buildInfo) ? statSync(buildInfo).mtimeMs : 0;
const stale = builtAt < Math.max(...sources.map(newest));
if (stale && existsSync(join(pkg, 'tsconfig.json'))) {
  let tsc;
  try {
    tsc = join(dirname(fileURLToPath(import.meta.resolve('typescript/package.json'))), 'bin', 'tsc');
  } catch {
    tsc = undefined;
  }
  if (tsc !== undefined) {
    if (!existsSync(main)) process.stderr.write('megaphone: building the command line (first run)…\n');
    const r = spawnSync(process.execPath, [tsc, '-b', pkg], { stdio: ['ignore', 2, 'inherit'] });
    if (r.status !== 0) {
      process.stderr.write('megaphone: building the command line failed (npx tsc -b packages/cli)\n');
      process.exit(1);
    }
  }
}
if (!existsSync(main)) {
  process.stderr.write('megaphone: not built; run `npm install && npm run build` in the repository\n');
  process.exit(1);
}
await import(pathToFileURL(main).href);
