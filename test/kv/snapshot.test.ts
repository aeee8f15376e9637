// Goal: a snapshot carries the whole replicated state (data, lastApplied, idempotency records and
// rules): a node restored from it behaves exactly like the node that took it. A view taken while
// writes continue stays at its index; chunked output equals the one-shot bytes; and corrupt,
// truncated or inconsistent snapshots are refused with a CodecError.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ByteWriter, CodecError, crc32 } from '../../src/codec/index.js';
import { KvStateMachine } from '../../src/kv/state-machine.js';
import { commandEntry, noopEntry, stepArb, stepEntry } from './helpers.js';

function assertSameState(a: KvStateMachine, b: KvStateMachine): void {
  assert.equal(b.lastApplied, a.lastApplied);
  assert.equal(b.size, a.size);
  assert.equal(b.dedupSize, a.dedupSize);
  assert.deepEqual(b.dedupConfig, a.dedupConfig);
  assert.deepEqual(b.list('', 1_000_000), a.list('', 1_000_000));
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

function decodeError(bytes: Uint8Array): CodecError {
  try {
    KvStateMachine.restore(bytes);
  } catch (e) {
    assert.ok(e instanceof CodecError, `expected CodecError, got ${String(e)}`);
    return e;
  }
  assert.fail('restored without error');
}

/** A snapshot body written by hand, with a correct checksum, to reach the structural checks. */
function handMade(write: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter();
  for (const b of [0x52, 0x4b, 0x56, 0x53, 1]) w.u8(b);
  write(w);
  const body = w.take();
  w.raw(body);
  w.u32le(crc32(body));
  return w.take();
}

describe('snapshot and restore', () => {
  it('restored state continues exactly like the original (random logs)', () => {
    const config = fc.record({
      window: fc.integer({ min: 1, max: 40 }),
      maxEntries: fc.integer({ min: 1, max: 8 }),
      maxBytes: fc.integer({ min: 64, max: 2000 }),
    });
    fc.assert(
      fc.property(
        config,
        fc.array(stepArb, { maxLength: 80 }),
        fc.array(stepArb, { maxLength: 80 }),
        (dedup, prefix, suffix) => {
          const a = new KvStateMachine({ dedup });
          prefix.forEach((step, i) => {
            a.apply(stepEntry(i + 1, step));
          });
          const bytes = a.snapshot();
          const b = KvStateMachine.restore(bytes);
          assertSameState(a, b);
          suffix.forEach((step, i) => {
            const entry = stepEntry(prefix.length + i + 1, step);
            assert.deepEqual(b.apply(entry), a.apply(entry));
          });
          assertSameState(a, b);
          // Same state, same bytes: snapshots are deterministic across nodes.
          assert.deepEqual(b.snapshot(), a.snapshot());
        },
      ),
      { numRuns: 300 },
    );
  });

  it('round-trips an empty state and keeps lastApplied', () => {
    const sm = new KvStateMachine();
    assertSameState(sm, KvStateMachine.restore(sm.snapshot()));
    sm.apply(noopEntry(1));
    sm.apply(noopEntry(2));
    const restored = KvStateMachine.restore(sm.snapshot());
    assert.equal(restored.lastApplied, 2);
    assert.throws(() => restored.apply(noopEntry(2)), RangeError);
    assert.equal(restored.apply(noopEntry(3)).kind, 'noop');
  });

  it('a view stays at its index while writes continue', () => {
    // Room for exactly the 500 records, so the later idempotent write evicts the oldest one.
    const sm = new KvStateMachine({ dedup: { maxEntries: 500 } });
    let index = 0;
    for (let i = 0; i < 500; i++) {
      sm.apply(commandEntry(++index, { op: 'put', key: `k${i}`, value: 'before', idempotencyKey: `i${i}` }));
    }
    const view = sm.snapshotView();
    const chunks = view.chunks(1024);
    const first = chunks.next();
    // Writes between chunks: overwrite, delete, add, and evict a record from the dedup table.
    for (let i = 0; i < 500; i += 3)
      sm.apply(commandEntry(++index, { op: 'put', key: `k${i}`, value: 'after' }));
    sm.apply(commandEntry(++index, { op: 'delete', key: 'k1' }));
    sm.apply(commandEntry(++index, { op: 'put', key: 'new', value: 'x', idempotencyKey: 'late' }));
    const rest = [...chunks];
    assert.equal(first.done, false);
    const restored = KvStateMachine.restore(concat([first.value as Uint8Array, ...rest]));
    assert.equal(restored.lastApplied, 500);
    assert.equal(view.lastApplied, 500);
    assert.equal(restored.size, 500);
    assert.ok(restored.list('', 1000).items.every((item) => item.value === 'before'));
    assert.equal(sm.lookupIdempotent('i0'), null);
    assert.equal(restored.lookupIdempotent('i0')?.index, 1);
    assert.equal(restored.lookupIdempotent('late'), null);
    assert.equal(restored.lookupIdempotent('i7')?.index, 8);
  });

  it('chunks concatenate to the one-shot bytes and respect the chunk size', () => {
    const sm = new KvStateMachine();
    for (let i = 0; i < 300; i++) {
      sm.apply(
        commandEntry(i + 1, {
          op: 'put',
          key: `key/${i}`,
          value: 'v'.repeat(i % 50),
          idempotencyKey: `r${i}`,
        }),
      );
    }
    const whole = sm.snapshot();
    for (const chunkBytes of [1, 100, 4096, 1 << 20]) {
      const chunks = [...sm.snapshotView().chunks(chunkBytes)];
      assert.deepEqual(concat(chunks), whole);
      // A chunk closes at the first record or pair that reaches the size, so it can exceed it by
      // at most one pair (here < 100 bytes); the last chunk is the 4-byte checksum.
      for (const c of chunks)
        assert.ok(c.length < chunkBytes + 100, `chunk of ${c.length} for ${chunkBytes}`);
      if (chunkBytes === 1 << 20) assert.equal(chunks.length, 2);
    }
  });

  it('refuses any single corrupted byte and any truncation', () => {
    const sm = new KvStateMachine();
    sm.apply(commandEntry(1, { op: 'put', key: 'a', value: 'apple', idempotencyKey: 'x' }));
    sm.apply(commandEntry(2, { op: 'cas', key: 'b', value: 'b', prevValue: 'nope' }));
    const good = sm.snapshot();
    for (let i = 0; i < good.length; i++) {
      const bad = good.slice();
      bad[i] ^= 0x40;
      decodeError(bad);
      decodeError(good.subarray(0, i));
    }
    assert.match(decodeError(Uint8Array.of(...good, 0)).message, /checksum/);
  });

  it('says why it refuses: magic, version, checksum', () => {
    assert.match(decodeError(new TextEncoder().encode('not a snapshot at all')).message, /bad magic/);
    assert.match(decodeError(Uint8Array.of(0x52, 0x4b, 0x56, 0x53, 9, 0, 0, 0, 0)).message, /version 9/);
    assert.match(decodeError(new Uint8Array(3)).message, /too short/);
  });

  it('refuses structurally impossible contents even with a valid checksum', () => {
    const header = (w: ByteWriter, lastApplied: number) => {
      w.varuint(lastApplied);
      for (const v of [100, 10, 1 << 20]) w.varuint(v);
    };
    const pairs = (w: ByteWriter, keys: string[]) => {
      w.varuint(keys.length);
      for (const k of keys) {
        w.string(k);
        w.string('v');
      }
    };
    const ok = handMade((w) => {
      header(w, 5);
      w.varuint(0);
      pairs(w, ['a', 'b']);
    });
    assert.equal(KvStateMachine.restore(ok).size, 2);
    const unsorted = handMade((w) => {
      header(w, 5);
      w.varuint(0);
      pairs(w, ['b', 'a']);
    });
    assert.match(decodeError(unsorted).message, /strictly increasing/);
    const emptyKey = handMade((w) => {
      header(w, 5);
      w.varuint(0);
      pairs(w, ['']);
    });
    assert.match(decodeError(emptyKey).message, /empty key/);
    const futureRecord = handMade((w) => {
      header(w, 5);
      w.varuint(1);
      w.string('idem');
      w.varuint(6);
      w.u8(4);
      w.string('k');
      pairs(w, []);
    });
    assert.match(decodeError(futureRecord).message, /newer than lastApplied/);
    const hugeCount = handMade((w) => {
      header(w, 5);
      w.varuint(0);
      w.varuint(2 ** 40);
    });
    assert.match(decodeError(hugeCount).message, /key count/);
  });

  it('throws only CodecError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (tail) => {
        try {
          KvStateMachine.restore(Uint8Array.of(0x52, 0x4b, 0x56, 0x53, 1, ...tail));
        } catch (e) {
          if (!(e instanceof CodecError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
