// The two checksums of the formats here, both computed natively (@node-rs/crc32 uses the CPU's
// CRC instructions; every byte written to and replayed from the WAL passes through one of them):
//  - CRC-32C (Castagnoli): the storage frames (WAL records, snapshot file headers, IDENTITY) and
//    the snapshot file's data;
//  - CRC-32 (IEEE 802.3, as zlib): the trailer of the kv snapshot format.
// Each format keeps the one it was defined with, so that data written before stays readable.

import { crc32 as nativeCrc32, crc32c as nativeCrc32c } from '@node-rs/crc32';

/** CRC-32C of `data`; pass a previous result as `seed` to continue over more bytes. */
export function crc32c(data: Uint8Array, seed = 0): number {
  return nativeCrc32c(data, seed) >>> 0;
}

/** CRC-32 (IEEE) of `data`; pass a previous result as `seed` to continue over more bytes. */
export function crc32(data: Uint8Array, seed = 0): number {
  return nativeCrc32(data, seed) >>> 0;
}
