import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCli } from '../src/cli.js';
import { readPeerArgs } from '../src/peers/peer-args.js';

test('bench options: defaults, lists, values', () => {
  const d = parseCli([]);
  assert.equal(d.quick, false);
  assert.equal(d.writeDocs, true);
  assert.deepEqual(d.systems, ['megaphone', 'socketio', 'naive', 'floor']);
  const o = parseCli(['--quick', '--scenario', 'idle,burst', '--systems', 'megaphone,batched-ws', '--no-docs', '--out', '/tmp/x', '--boost', '-10']);
  assert.deepEqual({ quick: o.quick, scenarios: o.scenarios, systems: o.systems, writeDocs: o.writeDocs, outDir: o.outDir, boost: o.boost }, {
    quick: true, scenarios: ['idle', 'burst'], systems: ['megaphone', 'batched-ws'], writeDocs: false, outDir: '/tmp/x', boost: -10,
  });
  assert.equal(parseCli(['-h']).help, true);
  assert.equal(parseCli(['--out=/tmp/y']).outDir, '/tmp/y');
  assert.equal(parseCli(['--boost=-5']).boost, -5);
  assert.equal(parseCli(['--boost', '3']).boost, 3);
  assert.equal(parseCli([]).rounds, undefined);
  assert.equal(parseCli(['--rounds', '9']).rounds, 9);
});

test('bench options: unknown options, missing values and bad values are errors', () => {
  assert.throws(() => parseCli(['--nope']), /Unknown option '--nope'[\s\S]*npm run bench/);
  assert.throws(() => parseCli(['--out']), /argument missing/);
  assert.throws(() => parseCli(['--systems', 'redis']), /unknown system redis/);
  assert.throws(() => parseCli(['--boost', '1.5']), /niceness/);
  assert.throws(() => parseCli(['--rounds', '0']), /--rounds takes a whole number/);
  assert.throws(() => parseCli(['--rounds', '2.5']), /--rounds takes a whole number/);
  assert.throws(() => parseCli(['extra']), /Unexpected argument 'extra'/);
});

test('peer arguments: both ports are required integers', () => {
  assert.deepEqual(readPeerArgs(['--port', '0', '--redis-port', '6379']), { port: 0, redisPort: 6379 });
  assert.throws(() => readPeerArgs(['--port', '1']), /--redis-port <integer> is required/);
  assert.throws(() => readPeerArgs(['--port', 'x', '--redis-port', '1']), /--port <integer>/);
  assert.throws(() => readPeerArgs(['--port', '1', '--redis-port', '1', '--other', '2']), /Unknown option/);
});
