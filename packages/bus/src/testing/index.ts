export { runBusContract } from './contract.js';
export type { BusNodes, BusNodesFactory, BusContractOptions } from './contract.js';
export { runLeaseContract } from './lease-contract.js';
export type { LeaseBus, LeaseNodes, LeaseContractOptions } from './lease-contract.js';
