// `node bench/dist/src/write-path.js [--sockets 1000] [--rate 50] [--seconds 2] [--rounds 10] [--size 110]`
//
// What writing one small frame costs the server: Node's `socket.write` against the gateway's direct
// handle write (services/gateway/src/ws/direct-write.ts), on the same loopback sockets in the same
// process. A child process holds the other ends and reads everything. Every `1000 / rate` ms one
// frame goes to every socket, as the gateway writes a publication at low rates; the two ways take
// turns (A B, B A, …) for `seconds` each, and the process's own user and system CPU is divided by
// the writes made. Prints the medians and the round-by-round ratios.
import { fork } from 'node:child_process';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BUSY, directWrites, QUEUED, type DirectWriteOwner } from '@megaphone/gateway';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    sockets: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '10' },
    size: { type: 'string', default: '110' },
  },
});
const sockets = Number(values.sockets);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const size = Number(values.size);

async function reader(port: number): Promise<void> {
  let open = 0;
  for (let i = 0; i < sockets; i++) {
    const s = createConnection(port, '127.0.0.1');
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.on('connect', () => {
      if (++open === sockets) process.send?.('ready');
    });
  }
  process.on('message', (m) => {
    if (m === 'exit') process.exit(0);
  });
}

type Way = 'socket.write' | 'direct';

async function main(): Promise<void> {
  if (!(sockets >= 1 && sockets <= 10_000) || !(rate > 0 && rate <= 1000) || !(seconds > 0 && seconds <= 60) || !(rounds >= 1 && rounds <= 100) || !(size >= 2 && size <= 65_536)) {
    process.stderr.write('usage: write-path [--sockets 1..10000] [--rate 1..1000] [--seconds 1..60] [--rounds 1..100] [--size 2..65536]\n');
    process.exit(2);
  }
  const direct = directWrites;
  if (direct === undefined) throw new Error('this Node has no handle-level write (direct-write.ts): nothing to compare');
  const accepted: Socket[] = [];
  const server = createServer((s) => {
    s.setNoDelay(true);
    s.on('error', () => undefined);
    accepted.push(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const child = fork(fileURLToPath(import.meta.url), ['reader', String((server.address() as AddressInfo).port)]);
  await new Promise((r) => child.once('message', r));
  while (accepted.length < sockets) await new Promise((r) => setTimeout(r, 10));

  let queued = 0;
  const owner: DirectWriteOwner = { directWriteDone: () => undefined };
  const frame = Buffer.alloc(size, 0x61);
  frame[0] = 0x81;
  // As the gateway does, each socket's target is read once, when it opens.
  const targets = accepted.map((s) => direct.target(s)!);
  const write: Record<Way, (i: number, b: Buffer) => void> = {
    'socket.write': (i, b) => void accepted[i]!.write(b),
    direct: (i, b) => {
      const t = targets[i]!;
      const r = direct.write(t.handle, t.state, accepted[i]!, b, owner);
      if (r === BUSY) accepted[i]!.write(b);
      else if (r === QUEUED) queued++;
    },
  };
  const perWrite: Record<Way, Array<{ user: number; sys: number }>> = { 'socket.write': [], direct: [] };
  for (let round = 0; round < rounds; round++) {
    const order: Way[] = round % 2 === 0 ? ['socket.write', 'direct'] : ['direct', 'socket.write'];
    for (const way of order) {
      const f = write[way];
      let writes = 0;
      const before = process.cpuUsage();
      const end = Date.now() + seconds * 1000;
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          if (Date.now() >= end) {
            clearInterval(timer);
            resolve();
            return;
          }
          // As the hub does: the turn's writes run from setImmediate, one fresh buffer per turn.
          setImmediate(() => {
            const buf = Buffer.from(frame);
            for (let i = 0; i < accepted.length; i++) f(i, buf);
            writes += accepted.length;
          });
        }, 1000 / rate);
      });
      const used = process.cpuUsage(before);
      perWrite[way].push({ user: used.user / writes, sys: used.system / writes });
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  process.stdout.write(`${sockets} loopback sockets, one ${size}-byte frame each ${rate} times a second, ${rounds} rounds of ${seconds} s per way\n`);
  for (const way of ['socket.write', 'direct'] as const) {
    const r = perWrite[way];
    process.stdout.write(
      `${way.padEnd(12)} µs per write: user ${median(r.map((x) => x.user)).toFixed(3)}, system ${median(r.map((x) => x.sys)).toFixed(3)}, ` +
        `total ${median(r.map((x) => x.user + x.sys)).toFixed(3)}\n`,
    );
  }
  const ratios = perWrite.direct.map((d, i) => (d.user + d.sys) / (perWrite['socket.write'][i]!.user + perWrite['socket.write'][i]!.sys));
  const userRatios = perWrite.direct.map((d, i) => d.user / perWrite['socket.write'][i]!.user);
  process.stdout.write(
    `direct ÷ socket.write, round by round: total ×${median(ratios).toFixed(3)} (×${Math.min(...ratios).toFixed(3)}–×${Math.max(...ratios).toFixed(3)}), ` +
      `user ×${median(userRatios).toFixed(3)}; writes the kernel did not take at once: ${queued}\n`,
  );
  child.send('exit');
  server.close();
  for (const s of accepted) s.destroy();
}

if (positionals[0] === 'reader') await reader(Number(positionals[1]));
else await main();
