// A log entry, as both the WAL and the peer wire carry it:
//
//   term:varuint  index:varuint  type:u8 (0 command, 1 noop, 2 config)  data:bytes (varuint length, bytes)
//
// The fields in the order of the Entry type. Reading returns the data as a view into the input.

import type { Entry, EntryType } from '../raft/types.js';
import { CodecError } from './errors.js';
import type { ByteReader } from './reader.js';
import { checkedVaruintSize, varuintSize } from './varuint.js';
import type { ByteWriter } from './writer.js';

const TYPE_CODES: Readonly<Record<EntryType, number>> = { command: 0, noop: 1, config: 2 };
/** Entry types by their code. */
const TYPES: readonly EntryType[] = ['command', 'noop', 'config'];

/** Smallest encoded entry: term, index, type and data length of one byte each. */
export const ENTRY_MIN_BYTES = 4;

function typeCode(type: EntryType): number {
  const code = TYPE_CODES[type];
  // typeof: 'toString' and the like find something on the prototype, but no number.
  if (typeof code !== 'number') {
    throw new CodecError('value', `cannot encode entry type ${String(type)}`);
  }
  return code;
}

/** Encoded size of `e`, after checking every field has an encoding. */
export function entrySize(e: Entry): number {
  typeCode(e.type);
  const n = e.data.length;
  return (
    checkedVaruintSize(e.term, 'entry.term') +
    checkedVaruintSize(e.index, 'entry.index') +
    1 +
    varuintSize(n) +
    n
  );
}

export function writeEntry(w: ByteWriter, e: Entry): void {
  w.varuint(e.term);
  w.varuint(e.index);
  w.u8(typeCode(e.type));
  w.bytes(e.data);
}

/** The type byte on its own (an older WAL record lays the other fields out differently). */
export function readEntryType(r: ByteReader): EntryType {
  const code = r.u8('entry.type');
  return TYPES[code] ?? r.fail(`unknown entry type ${code}`, r.offset - 1);
}

export function readEntry(r: ByteReader): Entry {
  const term = r.varuint('entry.term');
  const index = r.varuint('entry.index');
  const type = readEntryType(r);
  const data = r.bytes('entry.data');
  return { term, index, type, data };
}
