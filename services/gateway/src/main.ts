// `npm run gateway`: one gateway, configured by the environment (what the container image runs).
import { ConfigError, handleSignals, createLogger } from '@megaphone/runtime';
import { readGatewayConfig } from './config.js';
import { startGateway } from './gateway.js';

let config;
try {
  config = readGatewayConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`gateway: ${err.message}\n`);
  process.exit(2); // a configuration error: see docs/configuration.md
}
const logger = createLogger({ level: config.logLevel, service: 'gateway', node: config.nodeName });
// Signals are handled from the first moment: a SIGTERM during startup drains once started.
const starting = startGateway({ config, logger });
// Past the drain window plus 15 s for the bus and servers to close, the process exits regardless
// (k8s/base: preStop 5 s + drain 15 s + 15 s, within its 40 s grace period).
handleSignals(async () => (await starting).drain(), logger, { deadlineMs: config.drainMs + 15_000 });
await starting;
