import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, CloseCode, HttpErrorCode, HTTP_STATUS, Reason } from '../src/index.js';

const doc = readFileSync(new URL('../../../../docs/protocol.md', import.meta.url), 'utf8');

it('docs/protocol.md lists every error code, close code, reason and HTTP error of the catalogue', () => {
  for (const code of ERROR_CODES) assert.match(doc, new RegExp(`\\| \`${code}\` \\|`), `error code ${code}`);
  for (const code of Object.values(CloseCode)) assert.match(doc, new RegExp(`\\| ${code} \\|`), `close code ${code}`);
  for (const r of Object.values(Reason)) assert.ok(doc.includes(`\`${r}\``), `reason ${r}`);
  for (const code of Object.values(HttpErrorCode)) {
    assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${HTTP_STATUS[code]} \\|`), `HTTP error ${code}`);
  }
});
