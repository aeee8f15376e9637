// Goal: a real node serves GET /watch from its driver's hub — the stream opens from the node's
// next index, `/debug` and `/metrics` count the watcher — and a graceful stop with watches open
// finishes promptly, ending each stream instead of waiting on it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster } from '../support/cluster.js';
import { parseExposition, seriesValue } from '../support/prometheus-text.js';
import { waitFor, within } from '../support/wait.js';
import { openRaw } from '../support/watch-server.js';

test('a node serves watches, counts them, and a graceful stop ends them promptly', async (t) => {
  const c = await startCluster(t, { size: 1 });
  const id = await c.waitForLeader();
  const applied = (await c.debug(id)).lastApplied;
  const watches = await Promise.all([
    openRaw(c.port(id), '/watch?key=a'),
    openRaw(c.port(id), '/watch?prefix=app%2F'),
  ]);
  for (const w of watches) {
    assert.equal(w.status, 200);
    assert.equal(w.headers['content-type'], 'text/event-stream');
  }
  // It starts after what the node had applied when it opened (or later, if the node applied more).
  await watches[0]!.until('\n\n');
  const from = Number(/^: watching from index (\d+)\n/.exec(watches[0]!.text())?.[1]);
  assert.ok(from >= applied + 1, `${watches[0]!.text()} (applied ${applied})`);
  await waitFor('both watchers counted', async () => {
    const w = (await c.debug(id)).watchers as { open: number };
    return w.open === 2;
  });
  const metrics = parseExposition(await c.client(id).metrics());
  assert.equal(seriesValue(metrics, 'raftkv_watchers', {}), 2);
  assert.equal(seriesValue(metrics, 'raftkv_watchers_ended_total', { reason: 'dropped' }), 0);

  const node = c.node(id)!;
  await within('the node stopped with watches open', c.stopNode(id), { timeoutMs: 10_000 });
  await node.stopped;
  for (const w of watches) {
    await w.end(5_000);
    assert.match(w.text(), /: the node is shutting down[^\n]*\n\n$/);
  }
});
