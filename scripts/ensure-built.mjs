// Builds the workspace when it needs it, so that `npm start` works right after `npm install`.
// Preloaded into the service's own process (`node --import ./scripts/ensure-built.mjs <bin>`, see
// the root package.json) rather than run before it with `&&`: npm's shell then execs node, so a
// SIGTERM sent to npm reaches the service. `tsc -b` is incremental (a second or two when nothing
// changed). In a pruned production image (no TypeScript) the existing build output is used as is.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const built = existsSync(join(root, 'services/gateway/dist/src/main.js')) && existsSync(join(root, 'services/gateway/dist/public/index.html'));

/** The newest modification time under `dir`. */
function newest(dir) {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return t;
}

function run(args) {
  // stdout is the service's log stream (JSON lines): the build's output goes to stderr.
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) {
    console.error(`megaphone: build failed (${args.at(-1)})`);
    process.exit(r.status ?? 1);
  }
}

if (existsSync(tsc)) {
  run([tsc, '-b', 'services/standalone', 'packages/testing']);
  // The console bundle (and the SDK's /client.js beside it) is rebuilt when any of its sources (or
  // the client SDK's) is newer than it.
  const bundle = join(root, 'services/gateway/dist/public/app.js');
  const clientBundle = join(root, 'services/gateway/dist/public/client.js');
  const sources = Math.max(newest(join(root, 'services/gateway/console')), newest(join(root, 'packages/client/src')));
  if (!existsSync(bundle) || !existsSync(clientBundle) || statSync(bundle).mtimeMs < sources) run([join(root, 'services/gateway/console/build.mjs')]);
} else if (!built) {
  console.error('megaphone: not built and TypeScript is not installed; run `npm install` first');
  process.exit(1);
}
