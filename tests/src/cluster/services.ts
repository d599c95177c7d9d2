import { GATEWAY_BIN, GATEWAY_NODE_FLAGS } from '@megaphone/gateway';
import { PRODUCER_BIN } from '@megaphone/producer';
import type { ServiceBins } from '@megaphone/testing';

export { httpStatus, ServiceProcess } from '@megaphone/testing';
export type { RedisEnv } from '@megaphone/testing';

/** The services' commands, for @megaphone/testing's launcher. */
export const BINS: ServiceBins = { gatewayBin: GATEWAY_BIN, gatewayNodeFlags: GATEWAY_NODE_FLAGS, producerBin: PRODUCER_BIN };

export const API_TOKEN = 'cluster-test-token';
