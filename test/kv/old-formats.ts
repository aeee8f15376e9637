// Snapshots in the previous release's format (version 3: no leases, no history), written by hand
// from a state machine, for tests that a restore still reads them and checks what they carry.

import assert from 'node:assert/strict';
import { ByteWriter, crc32 } from '../../src/codec/index.js';
import type { KvStateMachine } from '../../src/kv/index.js';

/** A version-3 snapshot of `sm`, which must hold no idempotency records and no leases. */
export function snapshotV3(sm: KvStateMachine): Buffer {
  assert.equal(sm.dedupSize, 0, 'snapshotV3 writes no idempotency records');
  assert.equal(sm.leaseCount, 0, 'version 3 has no leases');
  const w = new ByteWriter();
  for (const b of [0x52, 0x4b, 0x56, 0x53, 3]) w.u8(b);
  w.varuint(sm.lastApplied);
  const d = sm.dedupConfig;
  w.varuint(d.window);
  w.varuint(d.maxEntries);
  w.varuint(d.maxBytes);
  w.varuint(sm.quotaBytes ?? 0);
  w.varuint(sm.noSpaceAlarms.length);
  for (const node of sm.noSpaceAlarms) w.string(node);
  w.varuint(0);
  const { items } = sm.list('', Math.max(1, sm.size));
  w.varuint(items.length);
  for (const item of items) {
    w.string(item.key);
    w.string(item.value);
    w.varuint(item.version);
    w.varuint(item.createIndex);
    w.varuint(item.modIndex);
  }
  const body = Buffer.from(w.take());
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(body));
  return Buffer.concat([body, crc]);
}
