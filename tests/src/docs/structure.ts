// The repository's shape rules that no compiler checks: every package and service README names
// each of its source files and names none that is gone, docs name only source files that exist,
// and no source file is longer than MAX_SOURCE_LINES. Pure functions over a directory, so the tests
// run them on the repository and on small trees that break each rule.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Past this a module usually holds two ideas (STYLE.md, "Small files with one concern"). */
export const MAX_SOURCE_LINES = 400;

const SOURCE_FILE = /\.(?:ts|mts|cts|js|mjs|cjs)$/;
const SKIPPED_DIRS = new Set(['node_modules', 'dist', '.git']);

/** Files under `dir` (relative to `root`, `/`-separated) accepted by `keep`, outside node_modules, dist and .git. */
function walk(root: string, dir: string, keep: (name: string) => boolean, out: string[] = []): string[] {
  const abs = join(root, dir);
  if (!existsSync(abs)) return out;
  for (const name of readdirSync(abs).sort()) {
    const rel = dir === '' ? name : `${dir}/${name}`;
    if (statSync(join(root, rel)).isDirectory()) {
      if (!SKIPPED_DIRS.has(name)) walk(root, rel, keep, out);
    } else if (keep(name)) out.push(rel);
  }
  return out;
}

function lineCount(text: string): number {
  if (text === '') return 0;
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

export interface LongFile {
  path: string;
  lines: number;
}

/** Every source file of the tree over `max` lines, longest first. */
export function longSourceFiles(root: string, max = MAX_SOURCE_LINES): LongFile[] {
  return walk(root, '', (name) => SOURCE_FILE.test(name))
    .map((path) => ({ path, lines: lineCount(readFileSync(join(root, path), 'utf8')) }))
    .filter((f) => f.lines > max)
    .sort((a, b) => b.lines - a.lines || a.path.localeCompare(b.path));
}

/** The workspaces whose README must name their files: every packages/* and services/* with a package.json. */
export function libraryWorkspaces(root: string): string[] {
  return ['packages', 'services'].flatMap((group) =>
    existsSync(join(root, group))
      ? readdirSync(join(root, group))
          .sort()
          .map((name) => `${group}/${name}`)
          .filter((ws) => existsSync(join(root, ws, 'package.json')))
      : [],
  );
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Whether `readme` names `file` (a path under the workspace's `src/`): as `src/a/b.ts` or as the
 * path below src, `a/b.ts`, not as the tail of a longer path (`redis/lease.ts` does not name
 * `src/lease.ts`).
 */
export function readmeNames(readme: string, file: string): boolean {
  const below = file.replace(/^src\//, '');
  return new RegExp(`(?<![\\w./-])(?:src/)?${escape(below)}(?![\\w/-])`).test(readme);
}

/** `src/…` paths a README names (globs such as `src/commands/*.ts` included), outside longer paths such as `dist/src/…`. */
export function namedSourcePaths(readme: string): string[] {
  return [...new Set([...readme.matchAll(/(?<![\w./-])src\/[\w./*-]*\w/g)].map((m) => m[0]))];
}

/** Whether `path` (under `base`; `*` matches within one path segment) names something that exists. */
function pathExists(root: string, base: string, path: string): boolean {
  const [first, ...rest] = path.split('/');
  if (first === undefined) return true;
  const dir = join(root, base);
  const names = !first.includes('*')
    ? [first]
    : existsSync(dir) && statSync(dir).isDirectory()
      ? readdirSync(dir).filter((n) => new RegExp(`^${escape(first).replace(/\\\*/g, '[^/]*')}$`).test(n))
      : [];
  return names.some((n) => (rest.length === 0 ? existsSync(join(dir, n)) : pathExists(root, `${base}/${n}`, rest.join('/'))));
}

export interface ReadmeProblems {
  workspace: string;
  /** True when the workspace has no README.md at all. */
  noReadme: boolean;
  /** Source files under src/ that the README does not name. */
  unnamed: string[];
  /** `src/…` paths the README names that do not exist. */
  gone: string[];
}

/** What is untrue or missing in one workspace's README; undefined when nothing is. */
export function readmeProblems(root: string, workspace: string): ReadmeProblems | undefined {
  const files = walk(root, `${workspace}/src`, (name) => SOURCE_FILE.test(name)).map((p) => p.slice(workspace.length + 1));
  const readmePath = join(root, workspace, 'README.md');
  if (!existsSync(readmePath)) return { workspace, noReadme: true, unnamed: files, gone: [] };
  const readme = readFileSync(readmePath, 'utf8');
  const unnamed = files.filter((f) => !readmeNames(readme, f));
  const gone = namedSourcePaths(readme).filter((p) => !pathExists(root, workspace, p));
  return unnamed.length === 0 && gone.length === 0 ? undefined : { workspace, noReadme: false, unnamed, gone };
}

export interface StalePath {
  doc: string;
  path: string;
}

/**
 * Paths of source files in the repository (`packages/…`, `services/…`, `tests/…`, `bench/…`, with
 * a source extension, outside `dist/`) that a Markdown file names but that do not exist: what a move
 * or a rename left behind in the docs.
 */
export function staleDocPaths(root: string): StalePath[] {
  const out: StalePath[] = [];
  for (const doc of walk(root, '', (name) => name.endsWith('.md'))) {
    const text = readFileSync(join(root, doc), 'utf8');
    const paths = text.matchAll(/(?<![\w./-])(?:packages|services|tests|bench)\/[\w./*-]*\.(?:ts|mts|cts|js|mjs|cjs)(?![\w/-])/g);
    for (const [path] of paths) {
      if (path.includes('/dist/') || pathExists(root, '', path)) continue;
      if (!out.some((s) => s.doc === doc && s.path === path)) out.push({ doc, path });
    }
  }
  return out;
}
