// One byte codec for every binary format: the WAL and snapshot files, the peer wire, and the kv
// commands and snapshots. See README.md for the rules and the formats.

export { crc32, crc32c } from './checksums.js';
export { ENTRY_MIN_BYTES, entrySize, readEntry, readEntryType, writeEntry } from './entry.js';
export { CodecError } from './errors.js';
export { ByteReader, u32beAt, u32leAt } from './reader.js';
export {
  readSnapshotMeta,
  SNAPSHOT_META_VERSION,
  snapshotMetaSize,
  writeSnapshotMeta,
} from './snapshot-meta.js';
export { isWellFormed, stringSize, utf8Length } from './utf8.js';
export { checkedVaruintSize, varuintSize } from './varuint.js';
export { ByteWriter } from './writer.js';
