export { readGatewayConfig, GATEWAY_ENV_NAMES, conflateMatcher, FD_RESERVE, PUBLIC_SOCKET_HEADROOM } from './config.js';
export type { GatewayConfig, GatewayHost, OriginPolicy } from './config.js';
export { startGateway } from './gateway.js';
export type { StartGatewayOptions, GatewayHandle } from './gateway.js';
export { GatewayMetrics } from './metrics.js';
export { GATEWAY_NODE_FLAGS } from './node-flags.js';
export { wsFraming } from './ws-frame.js';
export { sseFraming } from './sse-frame.js';
