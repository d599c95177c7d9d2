// The `megaphone` process: wires the real stdin/stdout/stderr, signals and environment into runCli.
import { runCli } from './cli.js';
import { readCliEnv } from './config.js';

const stop = new AbortController();
let interrupts = 0;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    // A second Ctrl-C does not wait for a clean stop.
    if (++interrupts > 1) process.exit(130);
    stop.abort(sig === 'SIGINT' ? 'interrupt' : 'terminate');
  });
}
// `megaphone tail … | head`: the reader went away. Stop quietly, without a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') {
      if (stream === process.stdout) stop.abort('stdout-closed');
      return;
    }
    throw err;
  });
}

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: readCliEnv(process.env),
  signal: stop.signal,
});
// Open sockets or timers of a finished command must not keep the process alive.
process.exitCode = code;
setImmediate(() => process.exit(code));
