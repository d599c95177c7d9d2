#!/usr/bin/env node
// `npm start`: build if needed, then run producer and gateway in one process (services/standalone).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const r = spawnSync(process.execPath, ['scripts/ensure-built.mjs'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
await import('../services/standalone/dist/src/main.js');
