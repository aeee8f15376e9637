// Goal: the one byte codec keeps its rules for every format: varuints exact up to 2^53 - 1 and
// only in their shortest form, strings exact (a leading U+FEFF kept, lone surrogates refused on
// write, malformed UTF-8 refused on read), no trailing bytes, byte strings read as views, every
// failure a CodecError with the byte offset; the writer fills an exactly measured buffer without
// growing or copying, and grows otherwise; the shared entry and snapshot-metadata encodings
// round-trip and are measured exactly.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ByteReader,
  ByteWriter,
  CodecError,
  entrySize,
  readEntry,
  readSnapshotMeta,
  snapshotMetaSize,
  stringSize,
  u32beAt,
  u32leAt,
  utf8Length,
  varuintSize,
  writeEntry,
  writeSnapshotMeta,
} from '../../src/codec/index.js';
import { initialMembership } from '../../src/raft/index.js';
import type { Entry, SnapshotMeta } from '../../src/raft/types.js';

const safeNat = fc.oneof(
  fc.nat(300),
  fc.nat(),
  fc.maxSafeNat(),
  fc.constantFrom(127, 128, 16383, 16384, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1),
);

function bytesOf(write: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter(1);
  write(w);
  return w.take();
}

function codecError(fn: () => unknown): CodecError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CodecError, `expected a CodecError, got ${String(e)}`);
    return e;
  }
  assert.fail('no error');
}

describe('varuints', () => {
  it('round-trip every safe integer, in varuintSize bytes', () => {
    fc.assert(
      fc.property(fc.array(safeNat, { maxLength: 20 }), (ns) => {
        const bytes = bytesOf((w) => {
          for (const n of ns) w.varuint(n);
        });
        assert.equal(
          bytes.length,
          ns.reduce((sum, n) => sum + varuintSize(n), 0),
        );
        const r = new ByteReader(bytes, 'test');
        for (const n of ns) assert.equal(r.varuint('n'), n);
        r.end();
      }),
    );
  });

  it('are LEB128: low 7 bits first, the high bit on every byte but the last', () => {
    assert.deepEqual(
      bytesOf((w) => w.varuint(300)),
      Uint8Array.of(0xac, 0x02),
    );
    assert.deepEqual(
      bytesOf((w) => w.varuint(2 ** 53 - 1)),
      Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f),
    );
  });

  it('are read only in their shortest form, up to 8 bytes and 2^53 - 1', () => {
    const read = (...b: number[]) => new ByteReader(Uint8Array.of(...b), 'test').varuint('n');
    const r = new ByteReader(Uint8Array.of(0x05, 0x81, 0x00), 'test');
    assert.equal(r.varuint('a'), 5);
    const e = codecError(() => r.varuint('n'));
    assert.match(e.message, /n varint is not in its shortest form/);
    assert.equal(e.offset, 1);
    assert.equal(codecError(() => read(0x81, 0x80, 0x00)).offset, 0);
    assert.match(codecError(() => read(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 1)).message, /longer/);
    assert.match(codecError(() => read(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10)).message, /MAX_SAFE/);
    assert.match(codecError(() => read(0x80)).message, /truncated/);
    assert.equal(read(0x00), 0);
  });

  it('refuse to write what has no encoding', () => {
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, -0.5]) {
      assert.match(codecError(() => bytesOf((w) => w.varuint(bad))).message, /cannot encode/);
    }
  });
});

describe('strings', () => {
  const wellFormed = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 100 }),
    fc.string({ maxLength: 100 }),
    fc.string({ unit: 'binary', minLength: 60, maxLength: 300 }),
  );

  it('round-trip exactly, measured by stringSize', () => {
    fc.assert(
      fc.property(fc.array(wellFormed, { maxLength: 5 }), (ss) => {
        const bytes = bytesOf((w) => {
          for (const s of ss) w.string(s);
        });
        assert.equal(
          bytes.length,
          ss.reduce((n, s) => n + stringSize(s, 's'), 0),
        );
        const r = new ByteReader(bytes, 'test');
        for (const s of ss) assert.equal(r.string('s'), s);
        r.end();
      }),
    );
  });

  it('measure UTF-8 as TextEncoder does, and find lone surrogates', () => {
    fc.assert(
      fc.property(wellFormed, (s) => assert.equal(utf8Length(s), new TextEncoder().encode(s).length)),
    );
    for (const s of ['\uD800', 'a\uDC00', '\uDBFF\uDBFF', `${'x'.repeat(100)}\uD83D`])
      assert.equal(utf8Length(s), -1);
    assert.equal(utf8Length('\u{1F600}'), 4);
  });

  it('keep a leading U+FEFF (it is a character, not a byte-order mark)', () => {
    for (const s of ['\uFEFF', '\uFEFFnode', `\uFEFF${'é'.repeat(40)}`]) {
      assert.equal(
        new ByteReader(
          bytesOf((w) => w.string(s)),
          'test',
        ).string('s'),
        s,
      );
    }
  });

  it('with a lone surrogate are refused on write, short or long, in any writer', () => {
    for (const s of ['\uD800', 'n\uDC00', `${'é'.repeat(50)}\uD800`, `${'a'.repeat(100)}\uDFFF`]) {
      assert.match(codecError(() => bytesOf((w) => w.string(s))).message, /lone surrogate/);
      assert.match(codecError(() => new ByteWriter(new Uint8Array(3)).string(s)).message, /lone surrogate/);
      assert.match(codecError(() => stringSize(s, 'key')).message, /cannot encode key/);
    }
  });

  it('of malformed UTF-8 are refused on read, at the string', () => {
    for (const bad of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      const bytes = Uint8Array.of(7, bad.length, ...bad);
      const r = new ByteReader(bytes, 'test');
      r.u8('x');
      const e = codecError(() => r.string('name'));
      assert.match(e.message, /name is not valid UTF-8/);
      assert.equal(e.offset, 2);
    }
  });

  it('longer than the input are refused before reading', () => {
    assert.match(
      codecError(() => new ByteReader(Uint8Array.of(0xff, 0xff, 0x03, 0x41), 'test').string('s')).message,
      /truncated: s needs 65535 byte\(s\), 1 left/,
    );
  });
});

describe('other primitives', () => {
  it('booleans are one byte, 0 or 1', () => {
    const r = new ByteReader(Uint8Array.of(0, 1, 2), 'test');
    assert.equal(r.bool('a'), false);
    assert.equal(r.bool('b'), true);
    const e = codecError(() => r.bool('c'));
    assert.match(e.message, /c must be 0 or 1, got 2/);
    assert.equal(e.offset, 2);
  });

  it('u32s in both byte orders, and patched in place', () => {
    const w = new ByteWriter(4);
    w.u32le(0x01020304);
    w.u32be(0x01020304);
    const at = w.reserve(8);
    w.patchU32le(at, 0xdeadbeef);
    w.patchU32be(at + 4, 0xdeadbeef);
    const bytes = w.take();
    assert.deepEqual(
      bytes,
      Uint8Array.of(4, 3, 2, 1, 1, 2, 3, 4, 0xef, 0xbe, 0xad, 0xde, 0xde, 0xad, 0xbe, 0xef),
    );
    assert.equal(u32leAt(bytes, 8), 0xdeadbeef);
    assert.equal(u32beAt(bytes, 12), 0xdeadbeef);
    assert.equal(new ByteReader(bytes, 'test').u32le('x'), 0x01020304);
  });

  it('byte strings are read as plain Uint8Array views into the input, with or without a length', () => {
    const input = Buffer.from([3, 1, 2, 3, 9, 9]);
    const r = new ByteReader(input, 'test');
    const data = r.bytes('data');
    const rest = r.raw(2, 'rest');
    r.end();
    assert.deepEqual(data, Uint8Array.of(1, 2, 3));
    assert.deepEqual(rest, Uint8Array.of(9, 9));
    assert.equal(data.buffer, input.buffer);
    assert.equal(Object.getPrototypeOf(data), Uint8Array.prototype);
  });

  it('trailing bytes are refused', () => {
    const r = new ByteReader(Uint8Array.of(1, 2, 3), 'record');
    r.u8('kind');
    const e = codecError(() => r.end());
    assert.equal(e.message, 'record: 2 trailing byte(s) (at byte 1)');
    assert.deepEqual([e.what, e.reason, e.offset], ['record', '2 trailing byte(s)', 1]);
  });
});

describe('ByteWriter', () => {
  it('fills an exactly measured buffer without growing, and hands over that buffer', () => {
    const s = 'node-é';
    const size = 1 + varuintSize(2 ** 40) + stringSize(s, 's') + 3 + 4;
    const buf = new Uint8Array(size);
    const w = new ByteWriter(buf);
    w.u8(7);
    w.varuint(2 ** 40);
    w.string(s);
    w.bytes(Uint8Array.of(1, 2));
    w.u32be(5);
    assert.equal(w.length, size);
    assert.equal(w.take(), buf);
  });

  it('grows as needed, and take() copies out and empties it', () => {
    const w = new ByteWriter(2);
    const big = new Uint8Array(1000).fill(7);
    w.raw(big);
    w.string('x'.repeat(300));
    const first = w.take();
    assert.equal(first.length, 1000 + 2 + 300);
    assert.deepEqual(first.subarray(0, 1000), big);
    w.u8(1);
    assert.deepEqual(w.take(), Uint8Array.of(1));
  });
});

describe('shared encodings', () => {
  const entryArb: fc.Arbitrary<Entry> = fc.record(
    {
      term: safeNat,
      index: safeNat,
      type: fc.constantFrom('command' as const, 'noop' as const),
      data: fc.uint8Array({ maxLength: 200 }),
    },
    { noNullPrototype: true },
  );
  const metaArb: fc.Arbitrary<SnapshotMeta> = fc.record(
    {
      index: safeNat,
      term: safeNat,
      membership: fc.record(
        {
          voters: fc.array(fc.string({ unit: 'binary', maxLength: 8 }), { maxLength: 7 }),
          outgoingVoters: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
          learners: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
          autoPromote: fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 }),
          addresses: fc.dictionary(fc.stringMatching(/^n[0-9]{1,3}$/), fc.string({ maxLength: 20 }), {
            maxKeys: 4,
            noNullPrototype: true,
          }),
        },
        { noNullPrototype: true },
      ),
    },
    { noNullPrototype: true },
  );

  it('an entry round-trips, measured exactly', () => {
    fc.assert(
      fc.property(entryArb, (e) => {
        const bytes = bytesOf((w) => writeEntry(w, e));
        assert.equal(bytes.length, entrySize(e));
        const r = new ByteReader(bytes, 'entry');
        assert.deepStrictEqual(readEntry(r), e);
        r.end();
      }),
    );
  });

  it('an entry is term, index, type, data length, data', () => {
    const e: Entry = { term: 3, index: 300, type: 'noop', data: Uint8Array.of(9) };
    assert.deepEqual(
      bytesOf((w) => writeEntry(w, e)),
      Uint8Array.of(3, 0xac, 0x02, 1, 1, 9),
    );
    assert.match(
      codecError(() => readEntry(new ByteReader(Uint8Array.of(3, 1, 3, 0), 'e'))).message,
      /type 3/,
    );
    const bad = { ...e, type: 'future' } as unknown as Entry;
    assert.match(codecError(() => entrySize(bad)).message, /entry type future/);
    // A membership change is type 2.
    const config: Entry = { ...e, type: 'config' };
    assert.deepEqual(
      bytesOf((w) => writeEntry(w, config)),
      Uint8Array.of(3, 0xac, 0x02, 2, 1, 9),
    );
    assert.deepEqual(readEntry(new ByteReader(Uint8Array.of(3, 0xac, 0x02, 2, 1, 9), 'e')), config);
  });

  it('snapshot metadata round-trips, measured exactly', () => {
    fc.assert(
      fc.property(metaArb, (meta) => {
        const bytes = bytesOf((w) => writeSnapshotMeta(w, meta));
        assert.equal(bytes.length, snapshotMetaSize(meta));
        const r = new ByteReader(bytes, 'meta');
        assert.deepStrictEqual(readSnapshotMeta(r), meta);
        r.end();
      }),
    );
  });

  it('version 1 metadata (voters only): a voter count beyond what the bytes can hold is refused before reading voters', () => {
    const e = codecError(() => readSnapshotMeta(new ByteReader(Uint8Array.of(1, 1, 0xff, 0x7f), 'meta'), 1));
    assert.match(e.message, /voter count is 16383 but only 0 byte/);
    const v1 = readSnapshotMeta(new ByteReader(Uint8Array.of(7, 2, 1, 2, 0x6e, 0x31), 'meta'), 1);
    assert.deepEqual(v1, { index: 7, term: 2, membership: initialMembership(['n1']) });
  });

  it('version 2 metadata carries the whole membership, and refuses a membership that is not one', () => {
    const bad = new TextEncoder().encode('{"v":1}');
    const e = codecError(() =>
      readSnapshotMeta(new ByteReader(Uint8Array.of(1, 1, bad.length, ...bad), 'meta')),
    );
    assert.match(e.message, /configuration entry: addresses must map node ids to strings/);
    const spaced = new TextEncoder().encode(
      '{"v":1, "voters":["n1"],"outgoingVoters":[],"learners":[],"autoPromote":[],"addresses":{}}',
    );
    const e2 = codecError(() =>
      readSnapshotMeta(new ByteReader(Uint8Array.of(1, 1, spaced.length, ...spaced), 'meta')),
    );
    assert.match(e2.message, /not in its canonical form/);
    assert.equal(e.offset, 2);
  });
});
