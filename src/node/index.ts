// The node runtime's public surface.

export * from '../api/errors.js';
export type * from '../api/service.js';
export { DiskStallGuard, type StallAction } from './disk-stall.js';
export {
  type HostPort,
  type LogFormat,
  type NodeOptions,
  NodeOptionsError,
  type ResolvedNodeOptions,
  resolveNodeOptions,
} from './options.js';
