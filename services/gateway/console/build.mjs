#!/usr/bin/env node
// Bundles the web console into services/gateway/dist/public/ (index.html, app.js, style.css, favicon.svg),
// after type-checking it against the DOM (the console has no Node types: nothing Node-only slips in),
// and the client SDK's browser bundle as client.js (any page can `import … from '<gateway>/client.js'`).
// Needs @megaphone/client built first (`tsc -b`, as `npm run build` does).
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'dist', 'public');
const watch = process.argv.includes('--watch');

const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
const check = spawnSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
if (check.status !== 0) {
  console.error('console: type check failed');
  process.exit(1);
}

await mkdir(out, { recursive: true });
await Promise.all(['index.html', 'style.css', 'favicon.svg'].map((f) => copyFile(join(here, f), join(out, f))));
const clientPackage = dirname(createRequire(import.meta.url).resolve('@megaphone/client/package.json'));
const { bundleClient } = await import(pathToFileURL(join(clientPackage, 'scripts', 'bundle.mjs')).href);
await bundleClient(join(out, 'client.js'));

const options = {
  entryPoints: [join(here, 'src', 'main.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2020', 'chrome90', 'firefox90', 'safari14'],
  minify: !watch,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log(`console: watching, writing ${out}`);
} else {
  await esbuild.build(options);
  console.log(`console: built ${out}`);
}
