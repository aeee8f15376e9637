// Reading a node's WAL segments the way an operator with a hex editor would (layout in
// src/storage/README.md): to damage them on purpose, at a chosen record.

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** u32 LE length | u32 CRC32C(payload) | u32 CRC32C(header) | payload (first byte: kind). */
export const FRAME_HEADER = 12;
/** The kind of an entry record (earlier releases wrote kind 1, which is still read). */
export const KIND_ENTRY = 8;

export interface Frame {
  readonly offset: number;
  readonly length: number;
  readonly kind: number;
}

/** The WAL segment files of a data dir, oldest first (sorted by name = by sequence number). */
export async function walSegments(dataDir: string): Promise<string[]> {
  const dir = path.join(dataDir, 'wal');
  const names = (await readdir(dir)).filter((n) => /^wal-[0-9a-f]{16}-[0-9a-f]{16}\.log$/.test(n)).sort();
  return names.map((n) => path.join(dir, n));
}

export async function lastSegment(dataDir: string): Promise<string> {
  const segs = await walSegments(dataDir);
  const last = segs.at(-1);
  if (last === undefined) throw new Error(`no WAL segment in ${dataDir}`);
  return last;
}

/** The frames of a segment from its start, up to the first one that does not fit in the file. */
export function frames(buf: Buffer): Frame[] {
  const out: Frame[] = [];
  let at = 0;
  while (at + FRAME_HEADER <= buf.length) {
    const length = buf.readUInt32LE(at);
    if (length === 0 || at + FRAME_HEADER + length > buf.length) break;
    out.push({ offset: at, length, kind: buf[at + FRAME_HEADER]! });
    at += FRAME_HEADER + length;
  }
  return out;
}

export async function readFrames(file: string): Promise<{ buf: Buffer; frames: Frame[] }> {
  const buf = await readFile(file);
  return { buf, frames: frames(buf) };
}
