// Goal: restoring a snapshot read a window at a time (KvStateMachine.restoreFrom, as a node
// restores from its snapshot file at startup) gives exactly the state the one-buffer restore gives,
// whatever the window size — items cut by a window's end, values larger than a window — and
// refuses exactly what the one-buffer restore refuses, with the same error.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ByteWriter, CodecError, crc32 } from '../../src/codec/index.js';
import { encodeCommand } from '../../src/kv/command.js';
import { decodeSnapshot, decodeSnapshotFrom, type SnapshotSource } from '../../src/kv/snapshot.js';
import { KvStateMachine } from '../../src/kv/state-machine.js';
import type { Entry } from '../../src/raft/types.js';
import { commandEntry, stepArb, stepEntry } from './helpers.js';

/** `bytes` as a snapshot file's data, counting the bytes read and the largest read. */
function sourceOf(bytes: Uint8Array): SnapshotSource & { readBytes: number; largest: number } {
  const source = {
    dataLength: bytes.length,
    readBytes: 0,
    largest: 0,
    read: async (offset: number, length: number) => {
      const out = bytes.slice(offset, Math.min(bytes.length, offset + length));
      source.readBytes += out.length;
      source.largest = Math.max(source.largest, out.length);
      return out;
    },
  };
  return source;
}

async function streamError(bytes: Uint8Array, window: number): Promise<CodecError> {
  try {
    await decodeSnapshotFrom(sourceOf(bytes), window);
  } catch (e) {
    assert.ok(e instanceof CodecError, `expected CodecError, got ${String(e)}`);
    return e;
  }
  assert.fail('decoded without error');
}

function bufferError(bytes: Uint8Array): CodecError {
  try {
    decodeSnapshot(bytes);
  } catch (e) {
    assert.ok(e instanceof CodecError, `expected CodecError, got ${String(e)}`);
    return e;
  }
  assert.fail('decoded without error');
}

/** Both decoders agree on `bytes`: the same state (its snapshot bytes) or the same error. */
async function assertAgree(bytes: Uint8Array, window: number): Promise<void> {
  let expected: Uint8Array | CodecError;
  try {
    expected = KvStateMachine.restore(bytes).snapshot();
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    expected = e;
  }
  if (expected instanceof CodecError) {
    assert.equal((await streamError(bytes, window)).message, expected.message);
    return;
  }
  const restored = await KvStateMachine.restoreFrom(sourceOf(bytes));
  assert.deepEqual(restored.snapshot(), expected);
  const small = await decodeSnapshotFrom(sourceOf(bytes), window);
  assert.equal(small.lastApplied, restored.lastApplied);
  assert.equal(small.store.size, restored.size);
}

/** A state machine with leases, keys tied to them, a transaction's record and history events. */
function richState(valueBytes: number): KvStateMachine {
  const sm = new KvStateMachine();
  const entries: Entry[] = [];
  let index = 0;
  const add = (data: Uint8Array) => {
    index++;
    entries.push({ term: 1, index, type: 'command', data });
  };
  add(encodeCommand({ op: 'leaseGrant', ttl: 10 }));
  for (let i = 0; i < 300; i++) {
    add(
      encodeCommand({
        op: 'put',
        key: `key-${String(i).padStart(4, '0')}`,
        value: `${'é'.repeat(i % 7)}${String(i).repeat(1 + (i % 13))}`,
        ...(i % 5 === 0 && { idempotencyKey: `idem-${i}` }),
        ...(i % 11 === 0 && { lease: 1 }),
      }),
    );
  }
  add(encodeCommand({ op: 'put', key: 'big', value: 'x'.repeat(valueBytes), idempotencyKey: 'big' }));
  add(encodeCommand({ op: 'delete', key: 'key-0003', idempotencyKey: 'del' }));
  add(
    encodeCommand({
      op: 'txn',
      compare: [{ key: 'key-0004', target: 'version', op: '==', value: 1 }],
      success: [
        { type: 'put', key: 'txn', value: 'y'.repeat(valueBytes) },
        { type: 'get', key: 'key-0005' },
      ],
      failure: [],
      idempotencyKey: 'txn',
    }),
  );
  for (const e of entries) sm.apply(e);
  return sm;
}

describe('restoring a snapshot a window at a time', () => {
  it('gives the state the one-buffer restore gives, for any window size', async () => {
    const bytes = richState(5000).snapshot();
    for (const window of [1, 2, 3, 7, 64, 333, 4096, 65_536, 1 << 20]) {
      const source = sourceOf(bytes);
      const sm = await KvStateMachine.restoreFrom({ ...source, read: source.read });
      assert.deepEqual(sm.snapshot(), bytes);
      await assertAgree(bytes, window);
    }
  });

  it('reads an item larger than its window (and larger than the low-water mark) whole', async () => {
    const bytes = richState(300_000).snapshot();
    const source = sourceOf(bytes);
    const decoded = await decodeSnapshotFrom(source, 4096);
    assert.equal(KvStateMachine.restore(bytes).size, decoded.store.size);
    // Every byte read once, plus what a window's end cut off and was read again.
    assert.ok(source.readBytes < 2 * bytes.length, `read ${source.readBytes} of ${bytes.length}`);
  });

  it('never reads much more than a window at a time when the items are small', async () => {
    const bytes = richState(100).snapshot();
    const source = sourceOf(bytes);
    await decodeSnapshotFrom(source, 1024);
    assert.ok(source.largest <= 1024 + 4, `largest read ${source.largest}`);
    assert.ok(bytes.length > 8 * 1024, 'the snapshot spans many windows');
  });

  it('agrees with the one-buffer restore on random logs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { maxLength: 60 }),
        fc.integer({ min: 1, max: 200 }),
        async (steps, window) => {
          const sm = new KvStateMachine();
          steps.forEach((step, i) => {
            sm.apply(stepEntry(i + 1, step));
          });
          await assertAgree(sm.snapshot(), window);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses what the one-buffer restore refuses, with the same error', async () => {
    const good = richState(40).snapshot();
    // A truncation and a flipped bit at every 53rd byte (the checksum catches each flip); a
    // smaller stride only repeats the same refusals, at many times the test's time.
    for (let i = 0; i < good.length; i += 53) {
      const bad = good.slice();
      bad[i]! ^= 0x10;
      await assertAgree(bad, 64);
      await assertAgree(good.subarray(0, i), 64);
    }
    await assertAgree(Uint8Array.of(...good, 0), 64);
    await assertAgree(new Uint8Array(3), 64);
    await assertAgree(Uint8Array.of(0x52, 0x4b, 0x56, 0x53, 9, 0, 0, 0, 0), 64);
  });

  it('refuses impossible contents with a valid checksum as the one-buffer restore does, at the same offset', async () => {
    const handMade = (write: (w: ByteWriter) => void): Uint8Array => {
      const w = new ByteWriter();
      for (const b of [0x52, 0x4b, 0x56, 0x53, 1]) w.u8(b);
      w.varuint(5);
      for (const v of [100, 10, 1 << 20]) w.varuint(v);
      write(w);
      const body = w.take();
      w.raw(body);
      w.u32le(crc32(body));
      return w.take();
    };
    const many = Array.from({ length: 500 }, (_, i) => `k${String(i).padStart(5, '0')}`);
    const cases = [
      handMade((w) => {
        w.varuint(0);
        w.varuint(many.length);
        for (const k of [...many.slice(0, 400), 'a', ...many.slice(401)]) {
          w.string(k);
          w.string('v');
        }
      }),
      handMade((w) => {
        w.varuint(0);
        w.varuint(2 ** 40);
      }),
      handMade((w) => {
        w.varuint(0);
        w.varuint(many.length);
        for (const k of many) {
          w.string(k);
          w.string('v');
        }
        w.u8(0);
      }),
    ];
    const messages = [/strictly increasing/, /key count/, /trailing/];
    for (const [i, bytes] of cases.entries()) {
      const expected = bufferError(bytes);
      assert.match(expected.message, messages[i]!);
      for (const window of [5, 50, 1000]) {
        assert.equal((await streamError(bytes, window)).message, expected.message);
      }
    }
  });

  it('restores the state machine a node would rebuild from its snapshot file', async () => {
    const sm = new KvStateMachine();
    for (let i = 1; i <= 2000; i++) {
      sm.apply(commandEntry(i, { op: 'put', key: `k${i % 1500}`, value: 'v'.repeat(i % 300) }));
    }
    const restored = await KvStateMachine.restoreFrom(sourceOf(sm.snapshot()));
    assert.equal(restored.lastApplied, 2000);
    assert.deepEqual(restored.snapshot(), sm.snapshot());
  });
});
