// Goal: a snapshot cut into chunk frames by the sender is reassembled byte for byte by the
// receiver, whatever the chunk size, and the receiver refuses streams that break the protocol.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CodecError } from '../../src/codec/index.js';
import { initialMembership } from '../../src/raft/index.js';
import type { InstallSnapshot } from '../../src/raft/types.js';
import { decodeFrame } from '../../src/transport/control-frames.js';
import { FrameDecoder } from '../../src/transport/framing.js';
import {
  MAX_SNAPSHOT_RESTARTS,
  OutgoingSnapshot,
  SnapshotAssembler,
} from '../../src/transport/snapshot-stream.js';

function snapshotMessage(data: Uint8Array): InstallSnapshot {
  return {
    type: 'InstallSnapshot',
    from: 'n1',
    to: 'n2',
    term: 4,
    snapshot: { meta: { index: 2 ** 40, term: 3, membership: initialMembership(['n1', 'n2', 'n3']) }, data },
  };
}

/** Runs the sender's frames through the frame decoder and the assembler, as a connection does. */
function transfer(out: OutgoingSnapshot, assembler: SnapshotAssembler): InstallSnapshot[] {
  const delivered: InstallSnapshot[] = [];
  const decoder = new FrameDecoder(1 << 20);
  let frames = out.nextFrame();
  while (frames.length > 0) {
    decoder.push(Buffer.concat(frames), (payload) => {
      const f = decodeFrame(payload);
      const done =
        f.kind === 'snapshotBegin'
          ? assembler.begin(f.head, f.dataLength)
          : f.kind === 'snapshotChunk'
            ? assembler.chunk(f.data)
            : assert.fail(`unexpected ${f.kind}`);
      if (done !== null) delivered.push(done);
    });
    frames = out.nextFrame();
  }
  return delivered;
}

describe('snapshot streaming', () => {
  it('reassembles any snapshot from any chunk size', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 4000 }),
        fc.integer({ min: 1, max: 5000 }),
        (data, chunkBytes) => {
          const m = snapshotMessage(data);
          const out = new OutgoingSnapshot(m, chunkBytes);
          assert.deepStrictEqual(transfer(out, new SnapshotAssembler(1 << 20)), [m]);
          assert.ok(out.done);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('starts over after restart(), and the receiver drops its partial copy', () => {
    const m = snapshotMessage(Uint8Array.from({ length: 100 }, (_, i) => i));
    const out = new OutgoingSnapshot(m, 30);
    const assembler = new SnapshotAssembler(1000);
    const begin = decodeFrame(out.nextFrame()[0]!.subarray(4));
    assert.equal(begin.kind, 'snapshotBegin');
    if (begin.kind === 'snapshotBegin') assembler.begin(begin.head, begin.dataLength);
    out.nextFrame();
    out.restart();
    assert.deepStrictEqual(transfer(out, assembler), [m]);
  });

  it('gives up after being cut off MAX_SNAPSHOT_RESTARTS times, counting only begun streams', () => {
    const out = new OutgoingSnapshot(snapshotMessage(new Uint8Array(10)), 4);
    assert.equal(out.restart(), true, 'nothing sent yet: not a restart');
    for (let i = 1; i <= MAX_SNAPSHOT_RESTARTS; i++) {
      out.nextFrame();
      assert.equal(out.restart(), true);
    }
    out.nextFrame();
    assert.equal(out.restart(), false);
  });

  it('refuses a stream larger than the limit, chunks without a beginning, and overruns', () => {
    const m = snapshotMessage(new Uint8Array(10));
    assert.throws(() => new SnapshotAssembler(9).begin(m, 10), CodecError);
    assert.throws(() => new SnapshotAssembler(100).chunk(new Uint8Array(1)), CodecError);
    const assembler = new SnapshotAssembler(100);
    assembler.begin(m, 10);
    assert.throws(() => assembler.chunk(new Uint8Array(11)), /overruns the announced 10 bytes/);
  });
});
