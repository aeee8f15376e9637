// CRC32C (Castagnoli), the checksum of every record, snapshot and metadata file.
// One place to name the implementation: @node-rs/crc32 computes it with the CPU's CRC32
// instruction, which matters because every byte written to and replayed from the WAL passes here.

import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/** CRC32C of `data`; pass a previous result as `seed` to continue over more bytes. */
export function crc32c(data: Uint8Array, seed = 0): number {
  return nativeCrc32c(data, seed) >>> 0;
}
