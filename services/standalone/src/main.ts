// `npm start`: producer and gateway in one process sharing one bus — the embedded MemoryBus unless
// REDIS_URL (or Sentinel/Cluster) is configured. Each service reads its own settings from the
// environment; the bus settings are common to both.
import { createBus } from '@megaphone/bus';
import { ConfigError, createLogger, handleSignals, historyPolicyFor } from '@megaphone/runtime';
import { readGatewayConfig, startGateway } from '@megaphone/gateway';
import { readProducerConfig, startProducer } from '@megaphone/producer';

function readConfigs() {
  try {
    return { gateway: readGatewayConfig(process.env), producer: readProducerConfig(process.env) };
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`megaphone: ${err.message}\n`);
      process.exit(2); // a configuration error: see docs/configuration.md
    }
    throw err;
  }
}

const config = readConfigs();
const log = (service: string) => createLogger({ level: config.gateway.logLevel, service, node: config.gateway.nodeName });
const logger = log('standalone');

async function start() {
  const bus = await createBus(config.gateway.bus, {
    history: historyPolicyFor(config.gateway.namespaces),
    logger: log('bus'),
    clientName: config.gateway.nodeName,
  });
  const producer = await startProducer({ config: config.producer, bus, logger: log('producer') });
  const gateway = await startGateway({ config: config.gateway, bus, logger: log('gateway') });
  return { bus, producer, gateway };
}

// Signals are handled from the first moment: a SIGTERM during startup stops what started, in order.
const starting = start();
handleSignals(async () => {
  const { bus, producer, gateway } = await starting;
  await gateway.drain();
  await producer.close();
  await bus.close();
}, logger, { deadlineMs: config.gateway.drainMs + config.producer.killGraceMs + 30_000 });
const { bus, producer, gateway } = await starting;

const host = config.gateway.host === '0.0.0.0' || config.gateway.host === '::' ? 'localhost' : config.gateway.host;
logger.info(
  {
    console: `http://${host}:${gateway.port}/`,
    websocket: `ws://${host}:${gateway.port}/ws`,
    producerApi: `http://${host}:${producer.port}/v1`,
    gatewayAdmin: `http://${host}:${gateway.adminPort}/metrics`,
    operatorPage: `http://${host}:${gateway.adminPort}/`,
    bus: bus.kind,
  },
  'megaphone is running',
);
process.stdout.write(`\n  Megaphone console: http://${host}:${gateway.port}/\n\n`);
