import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { GATEWAY_ENV_NAMES } from '@megaphone/gateway';
import { PRODUCER_ENV_NAMES } from '@megaphone/producer';
import { CLI_ENV_NAMES } from '@megaphone/cli';

const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');

it('docs/configuration.md documents exactly the variables the gateway, producer and command-line parsers accept', () => {
  // Every `NAME` in the first column of a table row (a row may name two related variables).
  const firstCells = [...doc.matchAll(/^\| ([^|]+) \|/gm)].map((m) => m[1]!);
  const documented = new Set(firstCells.flatMap((cell) => [...cell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!)));
  const accepted = new Set([...GATEWAY_ENV_NAMES, ...PRODUCER_ENV_NAMES, ...CLI_ENV_NAMES]);
  const undocumented = [...accepted].filter((n) => !documented.has(n)).sort();
  const unknown = [...documented].filter((n) => !accepted.has(n)).sort();
  assert.deepEqual({ undocumented, unknown }, { undocumented: [], unknown: [] });
});
