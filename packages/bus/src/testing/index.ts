export { runBusContract } from './contract.js';
export type { BusNodes, BusNodesFactory, BusContractOptions } from './contract.js';
