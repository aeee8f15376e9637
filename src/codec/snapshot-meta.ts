// A snapshot's metadata, as both the snapshot file header and the peer wire carry it:
//
//   index:varuint  term:varuint  voterCount:varuint  voter:string × voterCount
//
// Each format follows it with the data's length (and the file with the data's checksum).

import type { NodeId, SnapshotMeta } from '../raft/types.js';
import type { ByteReader } from './reader.js';
import { stringSize } from './utf8.js';
import { checkedVaruintSize, varuintSize } from './varuint.js';
import type { ByteWriter } from './writer.js';

/** Encoded size of `meta`, after checking every field has an encoding. */
export function snapshotMetaSize(meta: SnapshotMeta): number {
  const voters = meta.membership.voters;
  let n =
    checkedVaruintSize(meta.index, 'snapshot.index') +
    checkedVaruintSize(meta.term, 'snapshot.term') +
    varuintSize(voters.length);
  for (const v of voters) n += stringSize(v, 'voter');
  return n;
}

export function writeSnapshotMeta(w: ByteWriter, meta: SnapshotMeta): void {
  w.varuint(meta.index);
  w.varuint(meta.term);
  const voters = meta.membership.voters;
  w.varuint(voters.length);
  for (const v of voters) w.string(v);
}

export function readSnapshotMeta(r: ByteReader): SnapshotMeta {
  const index = r.varuint('snapshot.index');
  const term = r.varuint('snapshot.term');
  // A voter takes at least its length byte.
  const count = r.count('voter count', 1);
  const voters: NodeId[] = [];
  for (let i = 0; i < count; i++) voters.push(r.string('voter'));
  return { index, term, membership: { voters } };
}
