import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from tests/dist/src/ops/). */
export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export function repoPath(...parts: string[]): string {
  return join(ROOT, ...parts);
}
