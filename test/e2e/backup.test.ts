// Goal: backup and restore with real processes, as an operator runs them. (1) The round trip:
// keys and idempotency records written to a cluster, `raftkv snapshot save`, `status`, `restore`
// into three fresh data dirs, the new cluster started as usual: every key and value is there, a
// retried write with an old Idempotency-Key gets its recorded answer, and the new cluster — one
// of whose members took over an old member's address — never exchanges a message with the old
// one (another cluster id), which goes on working. (2) Saves while writes go on and leadership
// changes: the streaming leader killed mid-stream (the save fails clearly with one endpoint, and
// fails over to the next with several), the leader moved during a save — every save that
// succeeds holds exactly the state at its index.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { access, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { AckedWrites, openBackupFile } from '../support/backup.js';
import { CliProcess, runCli } from '../support/cli.js';
import { freePorts } from '../support/ports.js';
import { ProcessCluster } from '../support/process-cluster.js';
import { waitFor, within } from '../support/wait.js';

async function workDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-backup-e2e-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const value = (i: number, bytes: number): string => `${i}:`.padEnd(bytes, 'x');

/** `n` keys `k/<i>` with `bytes`-byte values, each written with an Idempotency-Key; their answers' indexes. */
async function load(c: ProcessCluster, n: number, bytes: number): Promise<Map<string, number>> {
  const indexes = new Map<string, number>();
  const leader = await c.waitForLeader();
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, async (_, j) => {
        const key = `k/${i + j}`;
        const r = await c.client(leader).put(key, value(i + j, bytes), { idempotencyKey: `load-${key}` });
        indexes.set(key, r.index);
      }),
    );
  }
  return indexes;
}

test('save, restore into a new 3-node cluster: every key, the idempotency records, a new cluster id', async (t) => {
  const dir = await workDir(t);
  const old = await ProcessCluster.create(t, { size: 3 });
  await old.diagnose(async () => {
    const written = await load(old, 2000, 256);
    const leader = await old.waitForLeader();
    const deleted = await old.client(leader).delete('k/7', { idempotencyKey: 'del-k7' });
    assert.equal(deleted.deleted, true);

    const file = path.join(dir, 'backup.snap');
    const save = await runCli(['snapshot', 'save', file, '--endpoints', old.endpoints(), '--json']);
    assert.equal(save.code, 0, save.stderr);
    const saved = JSON.parse(save.stdout);
    assert.equal(saved.keys, 1999);
    assert.ok(saved.index >= deleted.index, `saved at ${saved.index}, the delete was at ${deleted.index}`);
    const status = await runCli(['snapshot', 'status', file, '--json']);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout);
    assert.deepEqual(
      { ok: s.ok, index: s.index, keys: s.keys, bytes: s.bytes, sha256: s.sha256 },
      { ok: true, index: saved.index, keys: 1999, bytes: saved.bytes, sha256: saved.sha256 },
    );
    assert.deepEqual(await readdir(dir), ['backup.snap'], 'no FILE.part left');

    // The new cluster: two fresh addresses, and n3's — whose old node is stopped first, while the
    // old cluster goes on with its other two.
    await old.stopNode('n3');
    const ports = [...(await freePorts(2)), old.node('n3').spec.peerPort];
    // JSON logs: the restored members' restore.completed lines are checked in that form.
    const restored = await ProcessCluster.create(t, {
      ports,
      start: false,
      extraArgs: ['--log-format', 'json'],
    });
    const clusterArg = restored.clusterArg();
    for (const id of restored.ids) {
      const r = await runCli([
        'snapshot',
        'restore',
        file,
        '--id',
        id,
        '--cluster',
        clusterArg,
        '--data-dir',
        restored.node(id).dataDir,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`as member ${id} of the new cluster raftkv-`));
    }
    await restored.startAll();
    await restored.diagnose(async () => {
      await restored.waitForLeader();
      // Each member says, once, what it started from.
      for (const id of restored.ids) {
        const lines = restored
          .node(id)
          .output.map((l) => l.text)
          .filter((text) => text.startsWith('{') && text.includes('"restore.completed"'))
          .map((text) => JSON.parse(text) as Record<string, unknown>);
        assert.equal(lines.length, 1, `${id}: one restore.completed line`);
        const line = lines[0]!;
        assert.equal(line.event, 'restore.completed');
        assert.equal(line.level, 'info');
        assert.equal(line.index, saved.index);
        assert.equal(line.sourceClusterId, s.clusterId);
        assert.equal(typeof line.clusterId, 'string');
        assert.notEqual(line.clusterId, s.clusterId);
        assert.equal(line.dataDir, restored.node(id).dataDir);
      }
      // Every key and value, on every member.
      const expected = new Map(
        [...written.keys()].filter((k) => k !== 'k/7').map((k) => [k, value(Number(k.slice(2)), 256)]),
      );
      for (const id of restored.ids) {
        const got = await restored.list(id, 'k/');
        assert.equal(got.size, expected.size, id);
        for (const [k, v] of expected) assert.equal(got.get(k), v, `${id}: ${k}`);
      }
      // A retried write with an old Idempotency-Key: the recorded answer, nothing applied again.
      const client = restored.client(restored.ids[0]!);
      const again = await client.put('k/5', 'a different value', { idempotencyKey: 'load-k/5' });
      // k/5 was written once: version 1, created and last modified at its index.
      const index = written.get('k/5');
      assert.deepEqual(again, {
        key: 'k/5',
        value: value(5, 256),
        index,
        version: 1,
        createIndex: index,
        modIndex: index,
      });
      assert.equal((await client.get('k/5')).value, value(5, 256));
      const delAgain = await client.delete('k/7', { idempotencyKey: 'del-k7' });
      assert.deepEqual(delAgain, { key: 'k/7', deleted: true, index: deleted.index });
      // The log goes on from the backup's index.
      const fresh = await client.put('new', 'after the restore');
      assert.ok(fresh.index > saved.index, `${fresh.index} > ${saved.index}`);

      // Another cluster: its own id, and the old members' connections to n3's address — where a
      // restored member now listens — are refused on both sides.
      const newId = (await client.members()).clusterId;
      const oldId = (await old.client('n1').members()).clusterId;
      assert.notEqual(newId, oldId);
      assert.equal(s.clusterId, oldId);
      await waitFor('the restored n3 refuses the old members', () =>
        restored.node('n3').output.some((l) => l.text.includes('cluster id mismatch')),
      );
      // The old cluster goes on with its two, untouched by the new one.
      const oldWrite = await old.client('n1').put('old-only', 'yes', { timeoutMs: 10_000 });
      assert.ok(oldWrite.index > 0);
      assert.equal((await client.get('old-only')).value, null);
      assert.equal((await old.client('n2').get('new')).value, null);
    });
  });
});

/** Reads a FIFO: its first bytes once they come, then (drain()) the rest until the writer closes it. */
function fifoReader(fifo: string) {
  const stream = createReadStream(fifo, { highWaterMark: 64 * 1024 });
  const first = new Promise<Buffer>((resolve, reject) => {
    stream.once('data', (chunk) => {
      stream.pause();
      resolve(chunk as Buffer);
    });
    stream.once('error', reject);
  });
  return {
    first,
    drain: () =>
      new Promise<void>((resolve, reject) => {
        stream.on('data', () => {});
        stream.once('end', resolve);
        stream.once('error', reject);
        stream.resume();
      }),
  };
}

test('saves while writes go on and the leader is killed or moved: consistent, or a clear failure', async (t) => {
  const dir = await workDir(t);
  const c = await ProcessCluster.create(t, { size: 3 });
  await c.diagnose(async () => {
    // 16 MB: more than the socket buffers between a node and a client that stopped reading hold,
    // so a stream held by its client is held midway.
    await load(c, 2000, 8192);
    const writes = new AckedWrites(
      c.ids.map((id) => c.client(id)),
      'w/',
    );
    writes.start(4);
    await writes.waitForMore(20);

    // The client holds the stream: FILE.part is a FIFO the test reads only its first bytes of.
    // Then the streaming node — the leader — is killed.
    const holdAndKill = async (file: string, endpoints: string): Promise<CliProcess> => {
      execFileSync('mkfifo', [`${file}.part`]);
      const save = new CliProcess(['snapshot', 'save', file, '--endpoints', endpoints]);
      const reader = fifoReader(`${file}.part`);
      const head = await within('the first bytes of the backup', reader.first);
      assert.equal(head.subarray(0, 8).toString(), 'RAFTKVBK');
      const victim = endpoints.split(',')[0]!;
      const id = c.ids.find((i) => c.endpoints([i]) === victim)!;
      await c.kill9(id);
      await reader.drain();
      await within('the save to finish', save.exited, { timeoutMs: 60_000 });
      return save;
    };

    // One endpoint: the save fails, says so in one line, and leaves nothing behind.
    const leader1 = await c.waitForLeader();
    const cut = path.join(dir, 'cut.snap');
    const failed = await holdAndKill(cut, c.endpoints([leader1]));
    const failedExit = await failed.exited;
    assert.equal(failedExit.code, 1, failed.output());
    assert.match(
      failed.output(),
      /^raftkv: snapshot save failed: .*: GET http:\/\/[^ ]+\/admin\/snapshot: the answer was cut off after \d+ bytes/m,
    );
    await assert.rejects(access(cut));
    await assert.rejects(access(`${cut}.part`));
    await c.startNode(leader1);
    await c.waitForLeader();

    // Several endpoints: the same cut, then the next endpoint's whole backup.
    const leader2 = await c.waitForLeader();
    const failover = path.join(dir, 'failover.snap');
    const others = c.ids.filter((id) => id !== leader2);
    const saved = await holdAndKill(failover, c.endpoints([leader2, ...others]));
    assert.equal((await saved.exited).code, 0, saved.output());
    assert.match(saved.output(), /cut off after \d+ bytes.*; trying the next endpoint/);
    assert.match(
      saved.output(),
      /^saved .*failover\.snap: index \d+, \d+ keys, \d+ bytes \(verified; from /m,
    );
    await c.startNode(leader2);

    // The leader moved while a save streams from it: the client is paused (SIGSTOP) once the
    // stream has begun, so the stream is still open when leadership moves.
    const moved = path.join(dir, 'moved.snap');
    let overlapped = false;
    for (let attempt = 0; attempt < 5 && !overlapped; attempt++) {
      const leader = await c.waitForLeader();
      const node = c.node(leader);
      const from = node.output.length;
      const logged = (text: string): number =>
        node.output.slice(from).findIndex((l) => l.text.includes(text));
      const save = new CliProcess(['snapshot', 'save', moved, '--endpoints', c.endpoints([leader])]);
      t.after(() => save.signal('SIGKILL'));
      await waitFor('the backup streaming', () => logged('backup streaming') >= 0 || !save.running);
      save.signal('SIGSTOP');
      if (!save.running) continue; // whole before it could be held: again
      const to = c.ids.find((id) => id !== leader)!;
      assert.equal((await c.client(leader).moveLeader(to)).leaderId, to);
      save.signal('SIGCONT');
      const exit = await within('the save during the move', save.exited, { timeoutMs: 60_000 });
      assert.equal(exit.code, 0, save.output());
      overlapped =
        logged('leadership transfer started') >= 0 &&
        logged('leadership transfer started') < logged('backup sent');
    }
    assert.ok(overlapped, 'a save streamed across a leadership transfer');

    await writes.stop();
    for (const file of [failover, moved]) {
      const backup = await openBackupFile(file);
      writes.assertStateAt(backup.sm, backup.header.index);
      assert.equal(backup.sm.list('k/', 10_000).items.length, 2000, file);
    }
    t.diagnostic(`${writes.acked.size} writes acknowledged, ${writes.retries} retried`);
  });
});
