import { readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';

export type Obj = Record<string, unknown>;

/** Every non-empty document of a multi-document YAML stream; throws on a syntax error. */
export function yamlDocuments(text: string): Obj[] {
  const out: Obj[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('\n'));
    const value = doc.toJS() as unknown;
    if (value !== null && typeof value === 'object') out.push(value as Obj);
  }
  return out;
}

export function readYaml(path: string): Obj {
  return parse(readFileSync(path, 'utf8')) as Obj;
}

/** `obj.a.b.c` for plain objects and arrays; undefined when a step is missing. */
export function at(obj: unknown, ...path: (string | number)[]): unknown {
  let cur: unknown = obj;
  for (const step of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[step];
  }
  return cur;
}
