// Writing a backup file as a stream: the preamble, then the body's chunks as the state machine's
// view serialises them, then the trailer — hashing each piece on its way out, so the whole file is
// never in memory and its SHA-256 is known the moment its last byte is.

import { createHash } from 'node:crypto';
import { type BackupHeader, encodePreamble, encodeTrailerStart } from './format.js';

/**
 * The backup file of `header` and `body` (the state machine's snapshot, in chunks), in chunks: one
 * per body chunk, plus the preamble and the trailer. Pulled one at a time, so the reader sets the
 * pace; closing it early (return()) closes `body` too. Its return value is the file's SHA-256, hex.
 */
export function* backupFileChunks(
  header: BackupHeader,
  body: Iterable<Uint8Array>,
): Generator<Uint8Array, string, undefined> {
  const hash = createHash('sha256');
  let hashed = 0;
  const hashing = (bytes: Uint8Array): Uint8Array => {
    hash.update(bytes);
    hashed += bytes.byteLength;
    return bytes;
  };
  yield hashing(encodePreamble(header));
  for (const chunk of body) {
    if (chunk.byteLength > 0) yield hashing(chunk);
  }
  // The length it records covers the trailer's own first 16 bytes, which the hash covers too.
  const start = hashing(encodeTrailerStart(hashed + 16));
  const digest = hash.digest();
  const last = new Uint8Array(start.length + digest.length);
  last.set(start, 0);
  last.set(digest, start.length);
  yield last;
  return digest.toString('hex');
}
