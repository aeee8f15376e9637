// A snapshot's data is either its bytes or a reference to the node's snapshot file (types.ts,
// StoredSnapshotData). The core only carries it; these are for the code that reads it.

import { assert } from '../assert.js';
import type { HeldSnapshot, Snapshot } from './types.js';

/** The snapshot's bytes when they are held in memory; null when the node keeps them in a file. */
export function heldSnapshotData(snapshot: Snapshot): Uint8Array | null {
  return snapshot.data instanceof Uint8Array ? snapshot.data : null;
}

/**
 * The snapshot with its bytes, for code that only ever sees held ones (a snapshot received from
 * the leader, one just loaded or taken): a stored reference there is a bug, and throws.
 */
export function heldSnapshot(snapshot: Snapshot): HeldSnapshot {
  const data = heldSnapshotData(snapshot);
  assert(data !== null, () => `the data of snapshot ${snapshot.meta.index} is in a file, not in memory`);
  return { meta: snapshot.meta, data };
}

/** The same snapshot with its data left to the node's file: only the size is kept. */
export function withStoredData(snapshot: Snapshot): Snapshot {
  return { meta: snapshot.meta, data: { stored: true, byteLength: snapshot.data.byteLength } };
}
