// Goal: raftkv snapshot status and restore do what docs/cli.md says, on files made here: status
// describes an intact file and exits 0, names what is wrong with a damaged one and exits 1;
// restore builds, for every member, a data dir a node opens at the file's index under one new
// cluster id — the same for every member restored from the same file with the same --cluster, a
// different one for another --cluster, never the source's — which raftkv start takes up from the
// dir; it refuses a non-empty dir and a truncated, corrupted or foreign file with distinct
// reasons, writing nothing.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { backupFileChunks } from '../../src/backup/index.js';
import type { Io } from '../../src/cli/io.js';
import {
  parseSnapshotRestore,
  parseSnapshotSave,
  parseSnapshotStatus,
} from '../../src/cli/snapshot-options.js';
import { runSnapshotRestore } from '../../src/cli/snapshot-restore.js';
import { runSnapshotStatus } from '../../src/cli/snapshot-status.js';
import { encodeCommand } from '../../src/kv/command.js';
import { KvStateMachine } from '../../src/kv/index.js';
import { clusterIdOf } from '../../src/node/recover.js';
import { initialMembership } from '../../src/raft/index.js';
import { openStorage, RealDisk, readRestoreRecord } from '../../src/storage/index.js';

const SOURCE = 'raftkv-source0000000';
const NEW = 'n1=127.0.0.1:7101,n2=127.0.0.1:7102,n3=127.0.0.1:7103';

function capture(): Io & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), stdout: () => out, stderr: () => err };
}

/** A backup of 50 keys (one with an idempotency record) and a no-space alarm raised by "old9". */
function backupBytes(): Uint8Array {
  const sm = new KvStateMachine();
  let index = 0;
  const apply = (data: Uint8Array) => sm.apply({ index: ++index, term: 4, type: 'command', data });
  for (let i = 0; i < 50; i++)
    apply(encodeCommand({ op: 'put', key: `k${i}`, value: `v${i}`, idempotencyKey: `i${i}` }));
  apply(encodeCommand({ op: 'alarm', node: 'old9', active: true }));
  const header = {
    clusterId: SOURCE,
    nodeId: 'n2',
    index: sm.lastApplied,
    term: 4,
    membership: initialMembership({ n1: '10.0.0.1:7001', n2: '10.0.0.2:7001', n3: '10.0.0.3:7001' }),
    keyCount: sm.size,
    createdAtMs: Date.UTC(2025, 2, 2, 10, 14, 7),
  };
  return new Uint8Array(Buffer.concat([...backupFileChunks(header, sm.snapshotView().chunks(100))]));
}

/** `raftkv snapshot restore ARGV...`: exit code and output. */
async function restore(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = capture();
  const code = await runSnapshotRestore(parseSnapshotRestore(argv), io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

async function workDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-snapcli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('command lines: what is missing or wrong is a usage error', () => {
  assert.throws(() => parseSnapshotSave([], {}), /missing FILE/);
  const save = parseSnapshotSave(['b.snap', '--timeout', '2s'], { RAFTKV_ENDPOINTS: '10.0.0.1:7001' });
  assert.deepEqual(
    { file: save.file, idle: save.idleTimeoutMs, endpoints: save.endpoints.map((e) => e.label) },
    { file: 'b.snap', idle: 2000, endpoints: ['10.0.0.1:7001'] },
  );
  assert.throws(() => parseSnapshotStatus(['a', 'b']), /unexpected argument "b"/);
  const full = ['b.snap', '--id', 'n1', '--cluster', NEW, '--data-dir', 'd'];
  assert.equal(parseSnapshotRestore(full).cluster.n2?.port, 7102);
  for (const [drop, why] of [
    ['--id', /missing --id/],
    ['--cluster', /missing --cluster/],
    ['--data-dir', /missing --data-dir/],
  ] as const) {
    const at = full.indexOf(drop);
    assert.throws(() => parseSnapshotRestore([...full.slice(0, at), ...full.slice(at + 2)]), why);
  }
  assert.throws(
    () => parseSnapshotRestore([...full.slice(0, 2), 'n9', ...full.slice(3)]),
    /"n9" is not one of/,
  );
  assert.throws(() => parseSnapshotRestore([...full, '--cluster-token', 'a b']), /--cluster-token must be/);
});

test('status: an intact file described, exit 0; each kind of damage named, exit 1', async (t) => {
  const dir = await workDir(t);
  const bytes = backupBytes();
  const good = path.join(dir, 'good.snap');
  await writeFile(good, bytes);
  const io = capture();
  assert.equal(await runSnapshotStatus({ file: good, json: false }, io), 0);
  for (const line of [
    /^format {4}1$/m,
    new RegExp(`^cluster {3}${SOURCE}$`, 'm'),
    /^index {5}51$/m,
    /^term {6}4$/m,
    /^keys {6}50$/m,
    new RegExp(`^bytes {5}${bytes.length}$`, 'm'),
    /^created {3}2025-03-02T10:14:07.000Z by n2$/m,
    /^members {3}n1=10.0.0.1:7001, n2=10.0.0.2:7001, n3=10.0.0.3:7001$/m,
    /^sha256 {4}[0-9a-f]{64}$/m,
    /^checksum {2}ok$/m,
  ]) {
    assert.match(io.stdout(), line);
  }
  const json = capture();
  assert.equal(await runSnapshotStatus({ file: good, json: true }, json), 0);
  const parsed = JSON.parse(json.stdout());
  assert.equal(parsed.ok, true);
  assert.equal(parsed.keys, 50);
  assert.deepEqual(parsed.members[0], { id: 'n1', address: '10.0.0.1:7001', role: 'voter' });

  const flipped = bytes.slice();
  flipped[bytes.length - 100]! ^= 1; // in the body: the header still reads
  const cases: [string, Uint8Array, RegExp][] = [
    ['cut.snap', bytes.subarray(0, bytes.length - 10), /checksum {2}FAILED: truncated: /],
    ['flipped.snap', flipped, /checksum {2}FAILED: checksum mismatch: /],
  ];
  for (const [name, content, why] of cases) {
    const file = path.join(dir, name);
    await writeFile(file, content);
    const bad = capture();
    assert.equal(await runSnapshotStatus({ file, json: false }, bad), 1, name);
    assert.match(bad.stdout(), why);
    assert.match(bad.stdout(), /do not trust it/);
  }
  const other = path.join(dir, 'other.json');
  await writeFile(other, '{"not": "a snapshot"}');
  const foreign = capture();
  assert.equal(await runSnapshotStatus({ file: other, json: true }, foreign), 1);
  assert.equal(JSON.parse(foreign.stdout()).problem, 'not_a_snapshot');
  assert.match(foreign.stderr(), /not a raftkv snapshot file/);
  const missing = capture();
  assert.equal(await runSnapshotStatus({ file: path.join(dir, 'nope.snap'), json: false }, missing), 1);
  assert.match(missing.stderr(), /cannot read it: .*ENOENT/);
});

test('restore: every member of the new cluster, under one new id that raftkv start takes up', async (t) => {
  const dir = await workDir(t);
  const file = path.join(dir, 'b.snap');
  await writeFile(file, backupBytes());
  const ids: string[] = [];
  for (const id of ['n1', 'n2', 'n3']) {
    const inv = parseSnapshotRestore([file, '--id', id, '--cluster', NEW, '--data-dir', path.join(dir, id)]);
    const io = capture();
    assert.equal(await runSnapshotRestore(inv, io), 0, io.stderr());
    assert.match(
      io.stdout(),
      new RegExp(`into ${path.join(dir, id)}\\nas member ${id} of the new cluster raftkv-`),
    );
    assert.match(
      io.stdout(),
      new RegExp(`raftkv start --id ${id} --cluster ${NEW} --data-dir ${path.join(dir, id)}`),
    );
    assert.match(io.stderr(), /no-space alarm of old9, not a member of the new cluster/);
    const record = await readRestoreRecord(new RealDisk(), path.join(dir, id));
    assert.ok(record !== null);
    ids.push(record.clusterId);
    // What raftkv start computes from the same --cluster and this dir: the restored id.
    const options = { id, cluster: inv.cluster, dataDir: path.join(dir, id) };
    assert.equal(clusterIdOf(options, record), record.clusterId);
    const s = await openStorage(new RealDisk(), path.join(dir, id), {
      clusterId: record.clusterId,
      nodeId: id,
    });
    assert.equal(s.state.snapshot?.meta.index, 51);
    assert.equal(s.state.snapshot?.meta.term, 4);
    assert.deepEqual(s.state.snapshot?.meta.membership.voters, ['n1', 'n2', 'n3']);
    assert.equal(s.state.snapshot?.meta.membership.addresses.n2, '127.0.0.1:7102');
    const sm = KvStateMachine.restore(s.state.snapshot!.data);
    assert.equal(sm.size, 50);
    assert.equal(sm.lookupIdempotent('i7')?.index, 8);
    await s.close();
  }
  assert.equal(new Set(ids).size, 1, 'one id for every member');
  assert.notEqual(ids[0], SOURCE);
  assert.notEqual(
    ids[0],
    clusterIdOf({
      id: 'n1',
      cluster: parseSnapshotRestore([file, '--id', 'n1', '--cluster', NEW, '--data-dir', 'x']).cluster,
      dataDir: 'x',
    }),
    'not the id --cluster alone gives',
  );

  // Another membership, another cluster; a token names it; the source's id is refused.
  const other = 'n1=127.0.0.1:7201,n2=127.0.0.1:7202,n3=127.0.0.1:7203';
  const asN1 = (cluster: string, into: string, ...more: string[]) =>
    restore(file, '--id', 'n1', '--cluster', cluster, '--data-dir', path.join(dir, into), ...more);
  const elsewhere = await asN1(other, 'o1', '--json');
  assert.equal(elsewhere.code, 0, elsewhere.stderr);
  assert.notEqual(JSON.parse(elsewhere.stdout).clusterId, ids[0]);
  const named = await asN1(NEW, 't1', '--cluster-token', 'mine', '--json');
  assert.equal(named.code, 0, named.stderr);
  assert.equal(JSON.parse(named.stdout).clusterId, 'mine');
  assert.match(JSON.parse(named.stdout).start, /--cluster-token mine$/);
  const same = await asN1(NEW, 's1', '--cluster-token', SOURCE);
  assert.equal(same.code, 1);
  assert.match(same.stderr, /is the id of the cluster the snapshot was taken from/);
});

test('restore refuses a data dir in use and a damaged file, with distinct reasons, writing nothing', async (t) => {
  const dir = await workDir(t);
  const bytes = backupBytes();
  const good = path.join(dir, 'good.snap');
  await writeFile(good, bytes);
  const flipped = bytes.slice();
  flipped[bytes.length - 100]! ^= 0x40;
  const files: [string, Uint8Array, RegExp][] = [
    ['cut.snap', bytes.subarray(0, 150), /cut\.snap: truncated: /],
    [
      'flipped.snap',
      flipped,
      /flipped\.snap: checksum mismatch: the file's SHA-256 is [0-9a-f]{64}, its trailer records/,
    ],
    ['other.snap', new TextEncoder().encode('RKVS not a backup'), /other\.snap: not a raftkv snapshot file/],
  ];
  for (const [name, content, why] of files) {
    const file = path.join(dir, name);
    await writeFile(file, content);
    const target = path.join(dir, `dir-${name}`);
    const r = await restore(file, '--id', 'n1', '--cluster', NEW, '--data-dir', target);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^raftkv: snapshot restore refused: /);
    assert.match(r.stderr, why);
    await assert.rejects(readdir(target), /ENOENT/, 'nothing written');
  }
  const used = path.join(dir, 'used');
  await mkdir(used);
  await writeFile(path.join(used, 'notes.txt'), 'mine');
  const r = await restore(good, '--id', 'n1', '--cluster', NEW, '--data-dir', used);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /data dir .*used is not empty \(it holds files but no IDENTITY/);
  assert.deepEqual(await readdir(used), ['notes.txt']);
});
