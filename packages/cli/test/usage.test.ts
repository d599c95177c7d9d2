import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from 'node:util';
import { UsageError, intOption, listOption, withUsageErrors } from '../src/usage.js';
import { gatewayUrl, readCliEnv, resolveEndpoints } from '../src/config.js';
import { parseDurationSeconds } from '../src/duration.js';
import { parseSince } from '../src/commands/tail.js';

const options = { count: { type: 'string', short: 'n' }, json: { type: 'boolean' } } as const;
const parse = (args: string[]) => withUsageErrors(() => parseArgs({ args, options, allowPositionals: false, strict: true }));
const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UsageError, `a UsageError, not ${String(err)}`);
    return err.message;
  }
  assert.fail('no usage error');
};

test("parseArgs' errors become one short line", () => {
  assert.equal(message(() => parse(['--bogus'])), 'unknown option --bogus');
  assert.equal(message(() => parse(['--count'])), 'option --count needs a value');
  assert.equal(message(() => parse(['-n'])), 'option --count needs a value');
  assert.equal(message(() => parse(['--json=yes'])), 'option --json takes no value');
  assert.equal(message(() => parse(['stray'])), 'unexpected argument stray');
  assert.deepEqual({ ...parse(['-n', '3', '--json']).values }, { count: '3', json: true });
});

test('numbers, lists, durations and positions are checked', () => {
  assert.equal(intOption('count', '5', 1, 10), 5);
  assert.equal(intOption('count', undefined, 1, 10), undefined);
  assert.match(message(() => intOption('count', '0', 1, 10)), /between 1 and 10/);
  assert.match(message(() => intOption('count', '2.5', 1, 10)), /whole number/);
  assert.deepEqual(listOption(' cmd:*, uptime,,'), ['cmd:*', 'uptime']);
  assert.deepEqual(['90s', '15m', '1h', '1h30m', '7d'].map(parseDurationSeconds), [90, 900, 3600, 5400, 604_800]);
  assert.deepEqual(['', '1', 'h', '0s', '1x', '-1h', '1h '].map(parseDurationSeconds), [undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
  assert.deepEqual(parseSince('e7f1:41'), { epoch: 'e7f1', offset: 41 });
  assert.match(message(() => parseSince('41')), /EPOCH:OFFSET/);
  assert.match(message(() => parseSince('e7f1:x')), /EPOCH:OFFSET/);
});

test('endpoints: flags win over the environment, which wins over the defaults; bad URLs are listed together', () => {
  const env = readCliEnv({ MEGAPHONE_API: 'http://api.example:9000/', MEGAPHONE_TOKEN: 'from-env', NO_COLOR: '' });
  assert.equal(env.noColor, false, 'an empty NO_COLOR does not count (no-color.org)');
  const e = resolveEndpoints({ gateway: 'http://gw.example:8080' }, env);
  assert.deepEqual(e, { gateway: 'ws://gw.example:8080/ws', api: 'http://api.example:9000', admin: 'http://localhost:9100', token: 'from-env', adminToken: undefined });
  assert.equal(resolveEndpoints({ token: 'flag' }, env).token, 'flag');
  assert.equal(gatewayUrl('https://gw.example/custom/ws', 'x', []), 'wss://gw.example/custom/ws');
  const m = message(() => resolveEndpoints({ gateway: 'ftp://x', admin: 'nope' }, env));
  assert.match(m, /--gateway: "ftp:\/\/x" must be a ws:\/\/, wss:\/\/, http:\/\/ or https:\/\/ URL/);
  assert.match(m, /--admin: "nope" is not a URL/);
});
