// `npm run producer`: the producer alone, configured by the environment (what the container runs).
import { ConfigError, createLogger, handleSignals } from '@megaphone/runtime';
import { readProducerConfig, type ProducerConfig } from './config.js';
import { startProducer } from './producer.js';

let config: ProducerConfig;
try {
  config = readProducerConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`megaphone producer: ${err.message}\n`);
  process.exit(2); // a configuration error: see docs/configuration.md
}
const logger = createLogger({ level: config.logLevel, service: 'producer', node: config.nodeName });
// Signals are handled from the first moment: a SIGTERM that arrives while the jobs are starting
// waits for the start to finish and then stops them, instead of killing the process under them.
const starting = startProducer({ config, logger });
handleSignals(async () => (await starting).close(), logger);
await starting;
