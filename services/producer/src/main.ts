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
// Every shutdown step is bounded (producer.ts: the runs' kill grace + 2 s, then about 20 s for the
// outbox, the lease and the servers); past that the process exits regardless, within the 30 s grace
// period of k8s/base/producer-deployment.yaml with the default 5 s kill grace.
handleSignals(async () => (await starting).close(), logger, { deadlineMs: config.killGraceMs + 22_000 });
await starting;
