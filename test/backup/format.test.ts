// Goal: the backup file format (src/backup/README.md) round-trips a whole state — keys, values,
// idempotency records — whatever the chunking on either side, and refuses every damaged file with
// the right reason: cut short at any length (truncated), any byte changed (checksum mismatch, or
// not a snapshot / unsupported version where the preamble is hit), another file altogether.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { encodePreamble } from '../../src/backup/format.js';
import {
  BACKUP_FORMAT_VERSION,
  type BackupCheck,
  type BackupHeader,
  BackupReader,
  backupFileChunks,
  checkBackupFile,
  expectIntact,
  PREAMBLE_BYTES,
  TRAILER_BYTES,
} from '../../src/backup/index.js';
import { KvStateMachine } from '../../src/kv/state-machine.js';
import { initialMembership } from '../../src/raft/index.js';
import { commandEntry, noopEntry, V2_SNAPSHOT_GOLDEN } from '../kv/helpers.js';

/** A state with keys, an overwritten and a deleted key, and idempotency records of every kind. */
function sampleState(keys: number): KvStateMachine {
  const sm = new KvStateMachine();
  let index = 0;
  sm.apply(noopEntry(++index));
  for (let i = 0; i < keys; i++) {
    sm.apply(
      commandEntry(++index, {
        op: 'put',
        key: `k/${i}`,
        value: `value ${i} é\u{1F600}`,
        idempotencyKey: `put-${i}`,
      }),
    );
  }
  sm.apply(commandEntry(++index, { op: 'put', key: 'k/0', value: 'again' }));
  sm.apply(commandEntry(++index, { op: 'delete', key: 'k/1', idempotencyKey: 'del-1' }));
  sm.apply(
    commandEntry(++index, { op: 'cas', key: 'k/2', value: 'x', prevValue: 'nope', idempotencyKey: 'cas-2' }),
  );
  return sm;
}

function headerOf(sm: KvStateMachine): BackupHeader {
  return {
    clusterId: 'raftkv-0123456789abcdef',
    nodeId: 'n2',
    index: sm.lastApplied,
    term: 3,
    membership: initialMembership({ n1: '127.0.0.1:7001', n2: '127.0.0.1:7002', n3: '127.0.0.1:7003' }),
    keyCount: sm.size,
    createdAtMs: 1_700_000_000_123,
  };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** The whole file of `sm`, its chunks, and the SHA-256 the writer returned. */
function backupOf(
  sm: KvStateMachine,
  bodyChunkBytes = 64,
): { file: Uint8Array; chunks: number; sha256: string } {
  const it = backupFileChunks(headerOf(sm), sm.snapshotView().chunks(bodyChunkBytes));
  const parts: Uint8Array[] = [];
  for (let r = it.next(); ; r = it.next()) {
    if (r.done) return { file: concat(parts), chunks: parts.length, sha256: r.value };
    parts.push(r.value);
  }
}

/** Reads `file` in pieces of `pieceBytes`, collecting the body. */
function read(file: Uint8Array, pieceBytes = 1000): { check: BackupCheck; body: Uint8Array } {
  const body: Uint8Array[] = [];
  let expected = 0;
  const reader = new BackupReader((bytes, offset) => {
    assert.equal(offset, expected, 'body bytes arrive in order');
    expected += bytes.length;
    body.push(bytes.slice());
  });
  for (let at = 0; at < file.length; at += pieceBytes) reader.push(file.subarray(at, at + pieceBytes));
  return { check: reader.finish(), body: concat(body) };
}

/** The problem a file is refused for ('intact' if none), thrown early or found at the end. */
function verdict(file: Uint8Array, pieceBytes = 1000): string {
  try {
    const { check } = read(file, pieceBytes);
    return check.problem?.problem ?? 'intact';
  } catch (e) {
    if (e instanceof Error && 'problem' in e) return String(e.problem);
    throw e;
  }
}

const sm = sampleState(20);
const { file, chunks, sha256 } = backupOf(sm);
const headerBytes = encodePreamble(headerOf(sm)).length - PREAMBLE_BYTES;
const bodyStart = PREAMBLE_BYTES + headerBytes;
const bodyEnd = file.length - TRAILER_BYTES;

describe('round trip', () => {
  it('gives back the header, the exact state-machine snapshot and the SHA-256, however it is cut into pieces', () => {
    assert.ok(chunks > 3, `the body came in ${chunks - 2} chunks`);
    const snapshot = sm.snapshotView().toBytes();
    assert.equal(bodyEnd - bodyStart, snapshot.length);
    for (const piece of [1, 7, 48, 49, 1000, file.length]) {
      const { check, body } = read(file, piece);
      const intact = expectIntact(check);
      assert.deepEqual(intact.header, headerOf(sm), `piece ${piece}`);
      assert.equal(intact.sha256, sha256);
      assert.equal(intact.bytes, file.length);
      assert.equal(intact.bodyBytes, snapshot.length);
      assert.equal(intact.formatVersion, BACKUP_FORMAT_VERSION);
      assert.deepEqual(body, snapshot, `piece ${piece}`);
    }
  });

  it('restores a state machine equal to the one saved, idempotency records included', () => {
    const restored = KvStateMachine.restore(read(file).body);
    assert.equal(restored.lastApplied, sm.lastApplied);
    assert.deepEqual(restored.list('', 1000), sm.list('', 1000));
    assert.equal(restored.get('k/0'), 'again');
    assert.equal(restored.get('k/1'), null);
    assert.equal(restored.dedupSize, sm.dedupSize);
    for (const key of ['put-5', 'del-1', 'cas-2']) {
      assert.deepEqual(restored.lookupIdempotent(key), sm.lookupIdempotent(key), key);
    }
    assert.equal(restored.lookupIdempotent('put-5')?.kind, 'put');
    assert.equal(restored.lookupIdempotent('cas-2')?.kind, 'conflict');
  });

  it('a file holding a state from before key metadata (version-2 body) still restores', () => {
    const header = { ...headerOf(sm), index: 7, keyCount: 3 };
    const it = backupFileChunks(header, [V2_SNAPSHOT_GOLDEN][Symbol.iterator]());
    const parts: Uint8Array[] = [];
    for (let r = it.next(); !r.done; r = it.next()) parts.push(r.value);
    const { check, body } = read(concat(parts), 13);
    assert.deepEqual(expectIntact(check).header, header);
    const restored = KvStateMachine.restore(body);
    assert.equal(restored.lastApplied, 7);
    assert.deepEqual(restored.read('a'), { key: 'a', value: '2', version: 1, createIndex: 7, modIndex: 7 });
    assert.equal(restored.lookupIdempotent('r1')?.index, 3);
  });

  it('the SHA-256 is that of every byte before it, and the same state writes the same body', () => {
    assert.equal(
      createHash('sha256')
        .update(file.subarray(0, file.length - 32))
        .digest('hex'),
      sha256,
    );
    assert.equal(Buffer.from(file.subarray(file.length - 32)).toString('hex'), sha256);
    assert.deepEqual(backupOf(sm, 1 << 20).file, file);
  });

  it('an empty state is a valid file', () => {
    const empty = new KvStateMachine();
    const { check } = read(backupOf(empty).file);
    assert.equal(expectIntact(check).header.keyCount, 0);
  });
});

describe('damage', () => {
  it('a file cut short at any length is refused as truncated', () => {
    const boundaries = [
      0,
      1,
      8,
      9,
      PREAMBLE_BYTES,
      bodyStart,
      bodyEnd,
      bodyEnd + 8,
      bodyEnd + 16,
      file.length - 1,
    ];
    for (let length = 0; length < file.length; length++) {
      assert.equal(
        verdict(file.subarray(0, length)),
        'truncated',
        `cut to ${length} of ${file.length} bytes`,
      );
    }
    for (const length of boundaries) {
      const { check } = read(file.subarray(0, length));
      assert.match(check.problem?.message ?? '', /^truncated: /, `cut at ${length}`);
    }
  });

  it('any changed byte is refused, with the reason its place gives', () => {
    for (let at = 0; at < file.length; at++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const damaged = file.slice();
        damaged[at]! ^= mask;
        const expected =
          at < 8
            ? 'not_a_snapshot'
            : at === 8
              ? 'unsupported_version'
              : at >= bodyEnd && at < bodyEnd + 16
                ? 'truncated'
                : 'checksum_mismatch';
        assert.equal(verdict(damaged), expected, `byte ${at} ^ ${mask}`);
      }
    }
  });

  it('says what it found: a checksum mismatch names both hashes; the header still shows', () => {
    const damaged = file.slice();
    damaged[bodyStart + 5]! ^= 0x10;
    const { check } = read(damaged);
    assert.equal(check.problem?.problem, 'checksum_mismatch');
    assert.match(check.problem?.message ?? '', new RegExp(`trailer records ${sha256}`));
    assert.equal(check.header?.index, sm.lastApplied);
  });

  it('another file, or another version, is refused at its first bytes', () => {
    const json = new TextEncoder().encode('{"key": "not a snapshot"}');
    assert.equal(verdict(json), 'not_a_snapshot');
    const kvSnapshot = sm.snapshotView().toBytes();
    assert.equal(
      verdict(kvSnapshot),
      'not_a_snapshot',
      "the state machine's own snapshot is not a backup file",
    );
    const v2 = file.slice();
    v2[8] = 2;
    assert.throws(() => read(v2), /unsupported snapshot format version 2: this raftkv reads version 1/);
    assert.throws(() => read(json), /not a raftkv snapshot file/);
  });

  it('extra bytes after the end are refused', () => {
    assert.equal(verdict(concat([file, new Uint8Array([0])])), 'truncated');
  });
});

describe('checkBackupFile', () => {
  it('reads a file from disk in pieces and judges it', async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-backup-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const big = backupOf(sampleState(30_000), 256 * 1024);
    const good = path.join(dir, 'good.snap');
    await writeFile(good, big.file);
    let bodyBytes = 0;
    const check = await checkBackupFile(good, (bytes) => {
      bodyBytes += bytes.length;
    });
    assert.equal(expectIntact(check).header.keyCount, 29_999, '30,000 puts, one deleted');
    assert.equal(bodyBytes, check.bodyBytes);
    assert.ok(check.bytes > 1024 * 1024, 'more than one read');
    const cut = path.join(dir, 'cut.snap');
    await writeFile(cut, big.file.subarray(0, big.file.length - 100));
    assert.equal((await checkBackupFile(cut)).problem?.problem, 'truncated');
  });
});
