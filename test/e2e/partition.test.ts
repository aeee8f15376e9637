// Goal: the teaching chapter's exercise 3 with real processes and a real network partition —
// 5 nodes, each in its own network namespace; 2 of them (the leader among them) are cut off from
// the other 3 by iptables DROP rules in the namespaces, so packets are dropped, not refused. The
// 3-node side elects a leader and keeps committing; the 2-node side commits nothing (its writes
// answer 503/504, never 200; a linearizable read there fails rather than answer stale); after
// healing, the 2 catch up and hold exactly what the majority holds.
//
// Needs root, `ip netns` (iproute2) and iptables; skipped with a message otherwise.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, describeError } from '../support/http.js';
import { NetnsNetwork, netnsUnavailable } from '../support/netns.js';
import { ProcessCluster } from '../support/process-cluster.js';
import { Prng, seedFromEnv } from '../support/random.js';
import { waitFor } from '../support/wait.js';

const seed = seedFromEnv('RAFTKV_CRASH_SEED');
const requestTimeoutMs = 2000;

async function writeKeys(cluster: ProcessCluster, via: string, prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await cluster.put(via, `${prefix}${i}`, `${prefix}${i}-value`);
    assert.equal(r.status, 200, `write ${prefix}${i} via ${via}: ${r.text}`);
  }
}

test('exercise 3: 5 nodes, 2 cut off by a real partition: majority commits, minority cannot, then catches up', async (t) => {
  const why = netnsUnavailable();
  if (why !== null) {
    t.skip(`real partitions unavailable: ${why}`);
    return;
  }
  const network = await NetnsNetwork.create(t, 5, new Prng(seed));
  const cluster = await ProcessCluster.create(t, {
    network,
    timing: { heartbeatIntervalMs: 50, electionTimeoutMs: 500, requestTimeoutMs },
  });
  await cluster.diagnose(async () => {
    const oldLeader = await cluster.waitForLeader();
    await writeKeys(cluster, oldLeader, 'before/', 10);

    // Cut off the leader and one follower.
    const minority = [oldLeader, cluster.ids.find((id) => id !== oldLeader)!];
    const majority = cluster.ids.filter((id) => !minority.includes(id));
    await network.partition(minority);

    // The majority elects a leader of its own and keeps committing, directly and via followers.
    const newLeader = await cluster.waitForLeader(majority);
    for (const id of majority) await writeKeys(cluster, id, `majority-${id}/`, 10);

    // The minority commits nothing. Its writes (to the old leader and to the follower) answer
    // 503 or 504 — never 200 — while the majority goes on.
    const attempts = minority.flatMap((id) =>
      Array.from({ length: 5 }, (_, i) => ({ id, key: `minority/${id}/${i}`, value: `lost-${id}-${i}` })),
    );
    const answers = await Promise.all(
      attempts.map(async (a) => {
        try {
          return await cluster.put(a.id, a.key, a.value, { timeoutMs: requestTimeoutMs + 5000 });
        } catch (e) {
          return { status: 0, body: null, text: describeError(e), headers: {} } satisfies Answer;
        }
      }),
    );
    t.diagnostic(
      `minority writes answered: ${answers.map((r) => `${r.status} ${r.body?.code ?? ''}`).join(', ')}`,
    );
    answers.forEach((r, i) => {
      assert.ok(
        r.status === 503 || r.status === 504,
        `write ${attempts[i]!.key} to the minority answered ${r.status} ${r.text}`,
      );
    });
    // A linearizable read on the minority must not answer (it could only be stale).
    for (const id of minority) {
      const r = await cluster.get(id, 'majority-' + majority[0] + '/0', undefined, requestTimeoutMs + 5000);
      assert.ok(
        r.status === 503 || r.status === 504,
        `linearizable read on ${id} answered ${r.status} ${r.text}`,
      );
    }
    // The cut-off leader steps down (CheckQuorum), and the minority knows no leader.
    await waitFor('the cut-off leader stepping down', async () => {
      const infos = await Promise.all(minority.map((id) => cluster.debug(id)));
      return infos.every((d) => d.state !== 'leader');
    });
    await writeKeys(cluster, newLeader, 'during/', 10);

    // Heal: one leader for all five (the majority's), and the minority catches up.
    // (Generous bounds: a half-dead peer connection is replaced only after the transport's
    // liveness timeout, twice the election timeout.)
    await network.heal();
    const healedAt = Date.now();
    const healedLeader = await cluster.waitForLeader(cluster.ids, 60_000);
    assert.ok(majority.includes(healedLeader), `leader after healing (${healedLeader}) is from the majority`);
    await writeKeys(cluster, healedLeader, 'after/', 10);
    await cluster.waitConverged(cluster.ids, 60_000);
    t.diagnostic(`all five agree on a leader and have caught up ${Date.now() - healedAt} ms after healing`);

    const reference = await cluster.list(healedLeader, '');
    for (const id of minority) {
      const local = await cluster.list(id, '', 'stale');
      assert.deepEqual(local, reference, `${id} holds exactly what the leader holds`);
    }
    const expected = ['before/', 'during/', 'after/', ...majority.map((id) => `majority-${id}/`)];
    for (const prefix of expected) {
      for (let i = 0; i < 10; i++) assert.equal(reference.get(`${prefix}${i}`), `${prefix}${i}-value`);
    }
    // The minority's writes only ever reached minority logs, behind entries of an older term than
    // the majority's leader's: Raft discards them, so none may appear.
    for (const a of attempts)
      assert.equal(reference.get(a.key), undefined, `${a.key} must not have committed`);
  });
});
