// The data dir's one-record files (IDENTITY, RESTORED): one storage frame holding a kind byte, a
// u32 LE magic, a version byte and the file's fields — written whole (writeFileDurably) and read
// strictly: a bad frame, trailing bytes, another kind, magic or version, or fields that do not
// decode are a CorruptionError naming the file.

import { ByteReader, ByteWriter, CodecError } from '../codec/index.js';
import { CorruptionError } from './errors.js';
import { beginFrame, endFrame, readFrame } from './frame.js';

export interface RecordFileFormat {
  readonly kind: number;
  readonly magic: number;
  readonly version: number;
  /** What the file is, in messages: 'identity', 'restore record'. */
  readonly what: string;
  /** Says a file is another one: 'not an identity file'. */
  readonly notThis: string;
  /** Whose version the version byte is, in messages: 'data dir'. */
  readonly versionOf: string;
}

export function encodeRecordFile(f: RecordFileFormat, writeFields: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter();
  const at = beginFrame(w);
  w.u8(f.kind);
  w.u32le(f.magic);
  w.u8(f.version);
  writeFields(w);
  endFrame(w, at);
  return w.take();
}

export function decodeRecordFile<T>(
  f: RecordFileFormat,
  buf: Uint8Array,
  path: string,
  readFields: (r: ByteReader) => T,
): T {
  const frame = readFrame(buf, 0);
  if (!frame.ok) throw new CorruptionError(path, 0, frame.problem);
  if (frame.end !== buf.length)
    throw new CorruptionError(path, frame.end, `trailing bytes after the ${f.what}`);
  try {
    const r = new ByteReader(frame.payload, f.what);
    if (r.u8('kind') !== f.kind || r.u32le('magic') !== f.magic) r.fail(f.notThis, 0);
    const version = r.u8('version');
    if (version !== f.version) r.fail(`unsupported ${f.versionOf} version ${version}`);
    const fields = readFields(r);
    r.end();
    return fields;
  } catch (e) {
    if (e instanceof CodecError) throw new CorruptionError(path, 0, e.message);
    throw e;
  }
}
