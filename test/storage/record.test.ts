// Goal: the record format round-trips every value the WAL stores (binary, compact), and its
// framing catches damage: any flipped bit fails verification, and a cut-off frame is reported as
// such, with the information recovery needs to tell a torn tail from corruption.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ByteWriter, CodecError, writeEntry } from '../../src/codec/index.js';
import type { Entry } from '../../src/raft/types.js';
import { FRAME_HEADER_SIZE, findFrameAfter, readFrame } from '../../src/storage/frame.js';
import { decodeWalRecord, encodeWalRecords, type WalRecord } from '../../src/storage/wal-record.js';

const safeNat = fc.oneof(fc.nat(300), fc.nat(), fc.maxSafeNat());

const entryArb: fc.Arbitrary<Entry> = fc.record(
  {
    index: safeNat,
    term: safeNat,
    type: fc.constantFrom('command' as const, 'noop' as const),
    data: fc.uint8Array({ maxLength: 64 }),
  },
  { noNullPrototype: true },
);

const recordArb: fc.Arbitrary<WalRecord> = fc.oneof(
  entryArb.map((entry) => ({ kind: 'entry' as const, entry })),
  fc
    .record(
      {
        term: safeNat,
        commitIndex: safeNat,
        votedFor: fc.option(fc.string({ minLength: 1, maxLength: 12 })),
      },
      { noNullPrototype: true },
    )
    .map((hardState) => ({ kind: 'hardState' as const, hardState })),
  fc
    .record({ index: safeNat, term: safeNat }, { noNullPrototype: true })
    .map((snapshot) => ({ kind: 'snapshot' as const, snapshot })),
  fc
    .record({ seq: safeNat, firstIndex: safeNat, prevTerm: safeNat }, { noNullPrototype: true })
    .map((header) => ({ kind: 'segment' as const, header })),
  fc.constant({ kind: 'batchEnd' as const }),
);

function decodeAll(buf: Uint8Array): WalRecord[] {
  const out: WalRecord[] = [];
  let off = 0;
  while (off < buf.length) {
    const f = readFrame(buf, off);
    assert.ok(f.ok, `frame at ${off}`);
    out.push(decodeWalRecord(f.payload));
    off = f.end;
  }
  return out;
}

test('records round-trip', () => {
  fc.assert(
    fc.property(fc.array(recordArb, { maxLength: 20 }), (records) => {
      assert.deepEqual(decodeAll(encodeWalRecords(records)), records);
    }),
  );
});

test('entries are encoded compactly', () => {
  const e: Entry = { index: 1000, term: 5, type: 'command', data: new Uint8Array(10) };
  // 12 header + kind + 1-byte term + 2-byte index + type + 1-byte data length + data.
  assert.equal(
    encodeWalRecords([{ kind: 'entry', entry: e }]).length,
    FRAME_HEADER_SIZE + 1 + 1 + 2 + 1 + 1 + 10,
  );
});

test('entry records are the kind-8 record around the entry encoding the wire uses too', () => {
  const e: Entry = { term: 5, index: 1000, type: 'noop', data: Uint8Array.of(7) };
  const record = encodeWalRecords([{ kind: 'entry', entry: e }]).subarray(FRAME_HEADER_SIZE);
  const w = new ByteWriter();
  writeEntry(w, e);
  assert.deepEqual(record, Uint8Array.of(8, ...w.take()));
});

test('entry records of kind 1, written before the shared encoding, are still read', () => {
  // kind 1, index 1000, term 5, type noop, data 0x07 0x08 (the rest of the payload).
  const payload = Uint8Array.of(1, 0xe8, 0x07, 5, 1, 7, 8);
  assert.deepStrictEqual(decodeWalRecord(payload), {
    kind: 'entry',
    entry: { term: 5, index: 1000, type: 'noop', data: Uint8Array.of(7, 8) },
  });
  assert.throws(() => decodeWalRecord(Uint8Array.of(1, 0xe8, 0x07, 5, 3)), /unknown entry type 3/);
});

test('records are decoded strictly: trailing bytes, non-canonical varints, unknown kinds', () => {
  const marker = encodeWalRecords([{ kind: 'snapshot', snapshot: { index: 3, term: 1 } }]).subarray(
    FRAME_HEADER_SIZE,
  );
  assert.throws(() => decodeWalRecord(Uint8Array.of(...marker, 0)), CodecError);
  assert.throws(() => decodeWalRecord(Uint8Array.of(3, 0x83, 0x00, 1)), /not in its shortest form/);
  assert.throws(() => decodeWalRecord(Uint8Array.of(9)), /unknown WAL record kind 9/);
});

test('any single flipped bit is detected', () => {
  fc.assert(
    fc.property(recordArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (rec, at, bit) => {
      const buf = encodeWalRecords([rec]);
      buf[at % buf.length] = buf[at % buf.length]! ^ (1 << bit);
      assert.equal(readFrame(buf, 0).ok, false);
    }),
  );
});

test('a cut-off frame says nothing independent can follow it', () => {
  fc.assert(
    fc.property(entryArb, fc.nat(), (e, cut) => {
      const buf = encodeWalRecords([{ kind: 'entry', entry: e }]);
      const short = buf.subarray(0, cut % buf.length);
      const f = readFrame(short, 0);
      assert.equal(f.ok, false);
      if (!f.ok) assert.equal(f.resumeAt, null);
    }),
  );
});

test('a damaged payload resumes after the frame, a damaged header at the next byte', () => {
  const buf = encodeWalRecords([
    { kind: 'entry', entry: { index: 1, term: 1, type: 'command', data: new Uint8Array(8) } },
  ]);
  const payloadDamaged = buf.slice();
  payloadDamaged[buf.length - 1] = payloadDamaged[buf.length - 1]! ^ 1;
  const p = readFrame(payloadDamaged, 0);
  assert.ok(!p.ok && p.resumeAt === buf.length && /record checksum/.test(p.problem));
  const headerDamaged = buf.slice();
  headerDamaged[0] = headerDamaged[0]! ^ 1;
  const h = readFrame(headerDamaged, 0);
  assert.ok(!h.ok && h.resumeAt === 1 && /header checksum/.test(h.problem));
});

test('findFrameAfter finds the next intact frame and nothing in zeros', () => {
  const rec = encodeWalRecords([{ kind: 'batchEnd' }]);
  const buf = new Uint8Array(50 + rec.length + 20);
  buf.set(rec, 50);
  assert.equal(findFrameAfter(buf, 0), 50);
  assert.equal(findFrameAfter(buf, 51), -1);
  assert.equal(findFrameAfter(new Uint8Array(1000), 0), -1);
});
