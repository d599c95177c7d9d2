#!/usr/bin/env node
// The SDK as one browser ES module (the SDK and @megaphone/protocol, no other import):
// dist/browser/megaphone-client.js in the npm package, and /client.js on every gateway (the
// gateway's console build calls bundleClient with its own output path).
//   node scripts/bundle.mjs [outfile]
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_OUTFILE = join(pkg, 'dist', 'browser', 'megaphone-client.js');

/** Bundles src/index.ts into `outfile` (minified ESM, with a source map beside it). */
export async function bundleClient(outfile = DEFAULT_OUTFILE) {
  await esbuild.build({
    entryPoints: [join(pkg, 'src', 'index.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020', 'chrome90', 'firefox90', 'safari14'],
    minify: true,
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  return outfile;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await bundleClient(process.argv[2] === undefined ? undefined : resolve(process.argv[2]));
  console.log(`client: bundled ${out}`);
}
