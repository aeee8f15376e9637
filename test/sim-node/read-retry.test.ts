// Goal: a linearizable read on a follower whose relayed ReadIndex request is lost is asked of the
// leader again after a few heartbeats, and is served long before its deadline — not failed with a
// timeout after waiting it out. Runs the real node runtime on virtual time with one lost message.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GetResponse } from '../../src/api/service.js';
import type { CallResult } from './cluster.js';
import { quietCluster } from './quiet-cluster.js';
import { Domain } from './virtual-clock.js';

const HEARTBEAT_MS = 50;
const REQUEST_TIMEOUT_MS = 5000;

for (const what of ['request', 'answer'] as const) {
  test(`a follower's read whose relayed ${what} is lost is asked again and served in time`, async () => {
    const { sched, net, cluster } = quietCluster(4242, {
      heartbeatMs: HEARTBEAT_MS,
      electionMs: 10 * HEARTBEAT_MS,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      readMode: 'safe',
    });
    const clients = new Domain('test clients');
    try {
      cluster.start();
      await sched.run(20_000, () => cluster.leader() !== null);
      const leader = cluster.leader();
      assert.ok(leader !== null, 'a leader is elected');
      const follower = cluster.ids.find((id) => id !== leader)!;

      // Lose the first relayed read request (or its answer), and only that.
      let lost = 0;
      net.lose = (m) => {
        const hit =
          what === 'request'
            ? m.type === 'ReadIndexRequest' && m.from === follower
            : m.type === 'ReadIndexResponse' && m.to === follower;
        if (hit && lost === 0) {
          lost++;
          return true;
        }
        return false;
      };

      const started = sched.now;
      let result: CallResult<GetResponse> | undefined;
      void cluster
        .call(
          follower,
          (svc) => svc.get('k', { consistency: 'linearizable' }, sched.now + REQUEST_TIMEOUT_MS),
          2 * REQUEST_TIMEOUT_MS,
          clients,
        )
        .then((r) => {
          result = r;
        });
      await sched.run(sched.now + 2 * REQUEST_TIMEOUT_MS, () => result !== undefined);
      assert.equal(lost, 1, `one ${what} was lost`);
      assert.equal(result?.kind, 'ok', `the read answered: ${JSON.stringify(result)}`);
      const tookMs = sched.now - started;
      // Asked again after 3 heartbeats (150 ms): well inside a fifth of the deadline.
      assert.ok(tookMs < REQUEST_TIMEOUT_MS / 5, `served after ${tookMs} ms of virtual time`);
      assert.deepEqual(cluster.violations, []);
    } finally {
      clients.alive = false;
      cluster.shutdown();
    }
  });
}
