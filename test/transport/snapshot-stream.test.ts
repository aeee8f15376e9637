// Goal: a snapshot cut into chunk frames by the sender is reassembled byte for byte by the
// receiver, whatever the chunk size, and the receiver refuses streams that break the protocol. A
// snapshot kept in a file is streamed from it in the same frames, a chunk at a time, from the
// file opened when the stream began (even once deleted), and a damaged file's stream stops
// before its last chunk.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CodecError } from '../../src/codec/index.js';
import { heldSnapshot, initialMembership, silentLogger, withStoredData } from '../../src/raft/index.js';
import type { InstallSnapshot } from '../../src/raft/types.js';
import { Prng } from '../../src/random.js';
import { type Disk, RealDisk, SimDisk, SnapshotStore } from '../../src/storage/index.js';
import { snapshotFileName } from '../../src/storage/snapshot-store.js';
import { decodeFrame } from '../../src/transport/control-frames.js';
import { FrameDecoder } from '../../src/transport/framing.js';
import type { SnapshotFiles } from '../../src/transport/index.js';
import {
  MAX_SNAPSHOT_RESTARTS,
  OutgoingSnapshot,
  SnapshotAssembler,
} from '../../src/transport/snapshot-stream.js';
import { tempDir } from '../storage/helpers.js';
import { waitFor } from '../support/wait.js';

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

// --- snapshots kept in a file: streamed from it -------------------------------------------------

const SNAP_DIR = '/data/snap';

/** A snapshot store on `disk` holding the snapshot of `m`, and the message with only a reference. */
async function storedMessage(
  disk: Disk,
  dir: string,
  data: Uint8Array,
): Promise<{ store: SnapshotStore; held: InstallSnapshot; stored: InstallSnapshot }> {
  const store = await SnapshotStore.open(disk, dir, silentLogger);
  const held = snapshotMessage(data);
  await store.save(heldSnapshot(held.snapshot));
  return { store, held, stored: { ...held, snapshot: withStoredData(held.snapshot) } };
}

/** The store, with every openData and read recorded. */
function recorded(store: SnapshotStore): { files: SnapshotFiles; opens: number; reads: number[] } {
  const log = {
    opens: 0,
    reads: [] as number[],
    files: {
      openData: async (index: number, term: number) => {
        log.opens++;
        const file = await store.openData(index, term);
        return {
          dataLength: file.dataLength,
          dataCrc: file.dataCrc,
          read: (offset: number, length: number) => {
            log.reads.push(offset);
            return file.read(offset, length);
          },
          close: () => file.close(),
        };
      },
    },
  };
  return log;
}

/** A stream from the file, its events turned into something to wait for. */
function fromFile(message: InstallSnapshot, chunkBytes: number, files: SnapshotFiles) {
  let wake: (() => void) | null = null;
  const state = { failure: null as string | null, readies: 0 };
  const out = new OutgoingSnapshot(message, chunkBytes, {
    files,
    ready: () => {
      state.readies++;
      wake?.();
    },
    failed: (reason) => {
      state.failure = reason;
      wake?.();
    },
  });
  /** The next frame, once it has been read; empty when done or failed. */
  const next = async (): Promise<Uint8Array[]> => {
    for (;;) {
      const frames = out.nextFrame();
      if (frames.length > 0 || out.done || state.failure !== null) return frames;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = null;
    }
  };
  return { out, next, state };
}

/** Frames through the decoder and the assembler, as a connection does; the frames' bytes too. */
function receiver(assembler: SnapshotAssembler) {
  const delivered: InstallSnapshot[] = [];
  const bytes: Buffer[] = [];
  const decoder = new FrameDecoder(1 << 20);
  return {
    delivered,
    bytes,
    chunks: 0,
    push(frames: Uint8Array[]): void {
      const b = Buffer.concat(frames);
      bytes.push(b);
      decoder.push(b, (payload) => {
        const f = decodeFrame(payload);
        if (f.kind === 'snapshotChunk') this.chunks++;
        const done =
          f.kind === 'snapshotBegin'
            ? assembler.begin(f.head, f.dataLength)
            : f.kind === 'snapshotChunk'
              ? assembler.chunk(f.data)
              : assert.fail(`unexpected ${f.kind}`);
        if (done !== null) delivered.push(done);
      });
    },
  };
}

/** Bytes that differ at every position, so a misplaced chunk cannot go unnoticed. */
const pattern = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 2654435761) >>> 24);

describe('snapshot streaming from its file', () => {
  it('sends the same frames, byte for byte, as from memory: chunks equal the file data', async () => {
    for (const [size, chunkBytes] of [
      [0, 7],
      [1, 7],
      [7000, 1000],
      [7001, 1000],
      [5000, 6000],
    ] as const) {
      const { store, held, stored } = await storedMessage(new SimDisk(new Prng(1)), SNAP_DIR, pattern(size));
      const { out, next, state } = fromFile(stored, chunkBytes, store);
      const got = receiver(new SnapshotAssembler(1 << 20));
      for (let frames = await next(); frames.length > 0; frames = await next()) got.push(frames);
      assert.equal(state.failure, null);
      assert.ok(out.done);
      assert.deepStrictEqual(got.delivered, [held], `${size} bytes in chunks of ${chunkBytes}`);
      const fromMemory = receiver(new SnapshotAssembler(1 << 20));
      const memory = new OutgoingSnapshot(held, chunkBytes);
      for (let f = memory.nextFrame(); f.length > 0; f = memory.nextFrame()) fromMemory.push(f);
      assert.deepStrictEqual(Buffer.concat(got.bytes), Buffer.concat(fromMemory.bytes));
      out.close();
    }
  });

  it('reads one chunk ahead of the socket, not the whole file', async () => {
    const { store, stored } = await storedMessage(new SimDisk(new Prng(2)), SNAP_DIR, pattern(10_000));
    const files = recorded(store);
    const { out, next } = fromFile(stored, 1000, files.files);
    await next(); // the SnapshotBegin, once the file is open
    await waitFor('the first chunk read ahead', () => out.hasFrame);
    assert.deepEqual(files.reads, [0]);
    await next();
    await waitFor('the second chunk read ahead', () => out.hasFrame);
    assert.deepEqual(files.reads, [0, 1000]);
    out.close();
  });

  it('starts over from the start of the same open file after a cut', async () => {
    const { store, held, stored } = await storedMessage(new SimDisk(new Prng(3)), SNAP_DIR, pattern(5000));
    const files = recorded(store);
    const { out, next } = fromFile(stored, 1000, files.files);
    const assembler = new SnapshotAssembler(1 << 20);
    const first = receiver(assembler);
    for (let i = 0; i < 3; i++) first.push(await next()); // begin and two chunks
    assert.equal(first.chunks, 2);
    assert.equal(out.restart(), true);
    const second = receiver(assembler);
    for (let frames = await next(); frames.length > 0; frames = await next()) second.push(frames);
    assert.deepStrictEqual(second.delivered, [held]);
    assert.equal(second.chunks, 5);
    assert.equal(files.opens, 1, 'the file is opened once, for the whole stream');
    const again = files.reads.indexOf(0, 1);
    assert.ok(again > 0, `read again from the start: ${files.reads.join(',')}`);
    assert.deepEqual(files.reads.slice(again), [0, 1000, 2000, 3000, 4000]);
    out.close();
  });

  it('keeps the file open: a newer snapshot deleting it does not break the stream', async () => {
    const dir = await tempDir('snapstream');
    try {
      const { store, held, stored } = await storedMessage(new RealDisk(), dir.path, pattern(64 * 1024));
      const { out, next } = fromFile(stored, 4096, store);
      const got = receiver(new SnapshotAssembler(1 << 20));
      got.push(await next()); // the SnapshotBegin: the file is open
      got.push(await next());
      const { meta } = held.snapshot;
      await store.save({ meta: { ...meta, index: meta.index + 5 }, data: pattern(10) });
      const name = snapshotFileName(meta.index, meta.term);
      assert.deepEqual(await store.prune(1), [name]);
      await assert.rejects(readFile(`${dir.path}/${name}`), { code: 'ENOENT' });
      for (let frames = await next(); frames.length > 0; frames = await next()) got.push(frames);
      assert.deepStrictEqual(got.delivered, [held]);
      out.close();
    } finally {
      await dir.cleanup();
    }
  });

  it('drops the stream of a damaged file before its last chunk: the receiver installs nothing', async () => {
    for (const at of [0, 2500, 4999]) {
      const disk = new SimDisk(new Prng(4));
      const { store, stored } = await storedMessage(disk, SNAP_DIR, pattern(5000));
      const path = store.pathOf(store.list()[0]!);
      disk.corrupt(path, (await disk.size(path))! - 5000 + at);
      const { out, next, state } = fromFile(stored, 1000, store);
      const got = receiver(new SnapshotAssembler(1 << 20));
      for (let frames = await next(); frames.length > 0; frames = await next()) got.push(frames);
      assert.match(state.failure ?? '', /data checksum mismatch/, `damage at data byte ${at}`);
      assert.equal(out.done, false);
      assert.equal(got.chunks, 4, 'every chunk but the last');
      assert.deepStrictEqual(got.delivered, []);
      assert.deepStrictEqual(out.nextFrame(), []);
    }
  });

  it('fails a stream whose file is missing, or holds other data than the message says', async () => {
    const disk = new SimDisk(new Prng(5));
    const { store, stored } = await storedMessage(disk, SNAP_DIR, pattern(100));
    const other: InstallSnapshot = {
      ...stored,
      snapshot: { meta: { ...stored.snapshot.meta, index: 7 }, data: { stored: true, byteLength: 100 } },
    };
    const missing = fromFile(other, 10, store);
    assert.deepStrictEqual(await missing.next(), []);
    assert.match(missing.state.failure ?? '', /could not be opened: ENOENT/);
    const longer = fromFile(
      { ...stored, snapshot: { ...stored.snapshot, data: { stored: true, byteLength: 101 } } },
      10,
      store,
    );
    assert.deepStrictEqual(await longer.next(), []);
    assert.match(longer.state.failure ?? '', /holds 100 data bytes, the snapshot 101/);
  });
});
