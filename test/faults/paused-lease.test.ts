// Goal: a pause by fault injection is a real pause for the leader lease. A leader paused past its
// election timeout, while the others elected a leader that took a write, must not serve a read
// from its old lease once it resumes — neither with ?consistency=lease nor on a node started with
// --read-mode lease — whether it resumes still cut off (its lease is all it has) or healed (the
// messages it held then reach it too). The driver hands the core the ticks of the time that
// passed before any input (src/node/elapsed-ticks.ts): the guard an earlier fix put in for a
// process that was SIGSTOPped. Bringing that bug back (the driver's forgetPausedTime mutation)
// makes the node serve the stale value in the first test of each pair; in the second the messages
// it held tell it of the new term too, so that one checks the held read's path, not the clock.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Consistency } from '../../src/client/index.js';
import type { ReadMode } from '../../src/raft/index.js';
import { startCluster } from '../support/cluster.js';
import type { Answer } from '../support/http.js';
import { waitFor } from '../support/wait.js';

/** Never the value the deposed leader's lease would serve; the new value, or a refusal. */
function assertNotStale(a: Answer, what: string): void {
  assert.notEqual(a.body?.value, 'v1', `${what}: a stale read from an expired lease: ${a.text}`);
  if (a.status === 200) assert.equal(a.body.value, 'v2', what);
  else assert.ok([503, 504].includes(a.status), `${what}: ${a.status} ${a.text}`);
}

const variants: readonly { name: string; readMode: ReadMode; consistency?: Consistency }[] = [
  { name: '?consistency=lease', readMode: 'safe', consistency: 'lease' },
  { name: '--read-mode lease', readMode: 'lease' },
];

for (const { name, readMode, consistency } of variants) {
  test(`${name}: a leader paused past its election timeout serves no stale read after resume`, async (t) => {
    const c = await startCluster(t, { enableFaults: true, readMode });
    const old = await c.waitForLeader();
    const { term } = await c.debug(old);
    assert.equal((await c.putRetrying(old, 'k', 'v1')).status, 200);
    // The lease holds now: the read is served from it.
    const warm = await c.get(old, 'k', consistency);
    assert.equal(warm.body.value, 'v1', warm.text);

    // Paused and cut off: when it resumes, it has nothing but its clock to tell it the lease ran out.
    await c.client(old).setFaults({ paused: true, isolate: true });
    const others = c.ids.filter((id) => id !== old);
    const next = await c.waitForLeader({ among: others, afterTerm: term });
    assert.equal((await c.putRetrying(next, 'k', 'v2')).status, 200);
    await c.client(old).setFaults({ paused: false });
    assertNotStale(await c.get(old, 'k', consistency), 'resumed, still isolated');

    // Healed: it follows the new leader and reads the new value.
    await c.client(old).healFaults();
    await waitFor(`${old} reads v2`, async () => (await c.get(old, 'k', consistency)).body?.value === 'v2', {
      timeoutMs: 15_000,
    });
  });

  test(`${name}: a read sent to a paused leader is answered after the heal, never stale`, async (t) => {
    const c = await startCluster(t, { enableFaults: true, readMode });
    const old = await c.waitForLeader();
    const { term } = await c.debug(old);
    assert.equal((await c.putRetrying(old, 'k', 'v1')).status, 200);
    await c.client(old).setFaults({ paused: true });
    const next = await c.waitForLeader({ among: c.ids.filter((id) => id !== old), afterTerm: term });
    assert.equal((await c.putRetrying(next, 'k', 'v2')).status, 200);
    // Sent while paused: held by the node, served (or refused) only after it resumes.
    const held = c.get(old, 'k', consistency);
    await waitFor('the read is in flight on the paused node', async () => {
      const d = await c.debug(old);
      return (d.admission as { inflight: number }).inflight >= 1;
    });
    await c.client(old).healFaults();
    assertNotStale(await held, 'held while paused, resumed by DELETE');
    assertNotStale(await c.get(old, 'k', consistency), 'after the resume');
  });
}
