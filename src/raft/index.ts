// The consensus core's only public surface.

export { AssertionError, assert } from '../assert.js';
// The seeded Random of the simulators: an embedder's deterministic tests (and SimDisk) need one.
export { Prng } from '../random.js';
export * from './config.js';
export {
  allMembers,
  allVoters,
  decodeMembership,
  encodeMembership,
  initialMembership,
  isJoint,
  isMember,
  isVoter,
  type Membership,
  MembershipDecodeError,
} from './membership.js';
export { type ProgressStatus, RawNode, type Status } from './raw-node.js';
export { heldSnapshot, heldSnapshotData, withStoredData } from './snapshot-data.js';
export { type LogStorage, MemoryLogStorage } from './storage.js';
export * from './types.js';
