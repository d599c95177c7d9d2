import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONSOLE_PUBLIC_DIR } from '@megaphone/gateway';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
export const PUBLIC_DIR = CONSOLE_PUBLIC_DIR.replace(/\/$/, '');

/** `npm run build` bundles the console; a test run straight after `tsc -b` builds it here instead. */
export function ensureConsoleBuilt(): void {
  if (existsSync(`${PUBLIC_DIR}/app.js`) && existsSync(`${PUBLIC_DIR}/index.html`) && existsSync(`${PUBLIC_DIR}/client.js`)) return;
  const r = spawnSync(process.execPath, [`${root}services/gateway/console/build.mjs`], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('building the web console failed');
}
