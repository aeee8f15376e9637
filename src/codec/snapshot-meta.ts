// A snapshot's metadata, as both the snapshot file header and the peer wire carry it:
//
//   version 2:  index:varuint  term:varuint  membership:bytes (the configuration entry's JSON)
//   version 1:  index:varuint  term:varuint  voterCount:varuint  voter:string × voterCount
//
// Version 2 carries the whole membership (learners, a joint configuration's outgoing voters, the
// members' addresses), in the same JSON a configuration entry holds (raft/membership.ts). Version
// 1, written before membership could change, is still read: its voters, no learners, no
// addresses (the node's own list supplies those). Each format follows it with the data's length
// (and the file with the data's checksum).

import {
  decodeMembership,
  encodeMembership,
  initialMembership,
  MembershipDecodeError,
} from '../raft/membership.js';
import type { NodeId, SnapshotMeta } from '../raft/types.js';
import type { ByteReader } from './reader.js';
import { checkedVaruintSize, varuintSize } from './varuint.js';
import type { ByteWriter } from './writer.js';

/** The metadata version written now. */
export const SNAPSHOT_META_VERSION = 2 as const;

/**
 * The membership's bytes, encoded once per membership object: a snapshot's metadata is measured
 * before it is written (the wire's exact-size frames), and a leader sends the same one to many.
 */
const encoded = new WeakMap<object, Uint8Array>();
function membershipBytes(m: SnapshotMeta['membership']): Uint8Array {
  let bytes = encoded.get(m);
  if (bytes === undefined) {
    bytes = encodeMembership(m);
    encoded.set(m, bytes);
  }
  return bytes;
}

/** Encoded size of `meta` (version 2), after checking every field has an encoding. */
export function snapshotMetaSize(meta: SnapshotMeta): number {
  const membership = membershipBytes(meta.membership).length;
  return (
    checkedVaruintSize(meta.index, 'snapshot.index') +
    checkedVaruintSize(meta.term, 'snapshot.term') +
    varuintSize(membership) +
    membership
  );
}

export function writeSnapshotMeta(w: ByteWriter, meta: SnapshotMeta): void {
  w.varuint(meta.index);
  w.varuint(meta.term);
  w.bytes(membershipBytes(meta.membership));
}

export function readSnapshotMeta(
  r: ByteReader,
  version: 1 | typeof SNAPSHOT_META_VERSION = SNAPSHOT_META_VERSION,
): SnapshotMeta {
  const index = r.varuint('snapshot.index');
  const term = r.varuint('snapshot.term');
  if (version === 1) {
    // A voter takes at least its length byte.
    const count = r.count('voter count', 1);
    const voters: NodeId[] = [];
    for (let i = 0; i < count; i++) voters.push(r.string('voter'));
    return { index, term, membership: initialMembership(voters) };
  }
  const at = r.offset;
  const bytes = r.bytes('snapshot.membership');
  let membership: SnapshotMeta['membership'];
  try {
    membership = decodeMembership(bytes);
  } catch (e) {
    if (e instanceof MembershipDecodeError) return r.fail(e.message, at);
    throw e;
  }
  // The codec's rule: what decodes re-encodes to the same bytes (JSON alone would also accept
  // other spacing, key orders and extra keys).
  const canonical = membershipBytes(membership);
  if (canonical.length !== bytes.length || canonical.some((b, i) => b !== bytes[i])) {
    return r.fail('snapshot.membership is not in its canonical form', at);
  }
  return { index, term, membership };
}
