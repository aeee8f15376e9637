// The node runtime's public surface.
export { DiskStallGuard, type StallAction } from './disk-stall.js';
export * from './errors.js';
export { type RaftkvNode, startNode } from './node.js';
export {
  type HostPort,
  type LogFormat,
  type NodeOptions,
  NodeOptionsError,
  type ResolvedNodeOptions,
  resolveNodeOptions,
} from './options.js';
export type * from './service.js';
