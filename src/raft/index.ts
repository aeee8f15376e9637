// The consensus core's only public surface.
export * from './types.js';
export * from './config.js';
export { AssertionError, assert } from './assert.js';
export { type LogStorage, MemoryLogStorage } from './storage.js';
export { RawNode, type Status, type ProgressStatus } from './raw-node.js';
