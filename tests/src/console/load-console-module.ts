import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const consoleSrc = fileURLToPath(new URL('../../../../services/gateway/console/src/', import.meta.url));

/**
 * Loads one of the console's DOM-free modules (e.g. `ansi.ts`) in Node by bundling it with the
 * console's own bundler, so its logic can be unit-tested without a browser.
 */
export async function loadConsoleModule<T>(file: string): Promise<T> {
  const result = await build({ entryPoints: [join(consoleSrc, file)], bundle: true, format: 'esm', platform: 'neutral', write: false, logLevel: 'silent' });
  const dir = await mkdtemp(join(tmpdir(), 'megaphone-console-module-'));
  try {
    const out = join(dir, 'module.mjs');
    await writeFile(out, result.outputFiles[0]!.text);
    return (await import(pathToFileURL(out).href)) as T;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
