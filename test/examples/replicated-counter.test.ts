// Goal: the embedding example works as docs/embedding.md says. Three counter nodes (each on its
// own data dir, talking over loopback TCP) take increments through any node, lose a node and get
// it back from its data dir, and end with the same count, which holds every acknowledged
// increment. The deterministic simulation of the same replicas agrees on every seed tried,
// replays a seed exactly, and is the very code the guide shows.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { NodeId } from 'raftkv/raft';
import { CounterNode, NotLeaderError, OutcomeUnknownError } from '../../examples/replicated-counter/node.js';
import { simulate } from '../../examples/replicated-counter/simulate.js';
import { freePorts, LOOPBACK } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

const repo = new URL('../../../', import.meta.url);

test('three counter nodes: increments through any node, a node stopped and restarted, nothing acknowledged lost', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'raftkv-counter-'));
  const ids: NodeId[] = ['n1', 'n2', 'n3'];
  const ports = await freePorts(ids.length);
  const peers = Object.fromEntries(ids.map((id, i) => [id, { host: LOOPBACK, port: ports[i]! }]));
  const start = (id: NodeId): Promise<CounterNode> =>
    // Snapshots every few entries, so the restarted node recovers from one and is sent one.
    CounterNode.start({
      id,
      peers,
      dataDir: path.join(root, id),
      tickMs: 25,
      snapshotEvery: 8,
      snapshotKeep: 2,
    });
  const nodes = new Map<NodeId, CounterNode>();
  t.after(async () => {
    for (const n of nodes.values()) await n.stop();
    rmSync(root, { recursive: true, force: true });
  });
  for (const id of ids) nodes.set(id, await start(id));

  let acknowledged = 0;
  let unknown = 0;
  /** As a client would: ask `via`, follow the not-leader hint, retry until acknowledged. */
  const incrementVia = async (via: NodeId, by: number): Promise<void> => {
    let target = via;
    await waitFor(`an increment by ${by} through ${via}`, async (note) => {
      const node = nodes.get(target) ?? nodes.get(via)!;
      try {
        await node.increment(by);
        acknowledged += by;
        return true;
      } catch (e) {
        note(String(e));
        if (e instanceof NotLeaderError) target = e.leaderId ?? via;
        // It may still apply: counted as possibly in the total, then tried again.
        if (e instanceof OutcomeUnknownError) unknown += by;
        return false;
      }
    });
  };
  const leaderId = (): Promise<NodeId> =>
    waitFor('a leader', () => [...nodes.values()].find((n) => n.status().role === 'leader')?.id);

  for (let i = 0; i < 12; i++) await incrementVia(ids[i % 3]!, 1 + (i % 4));
  for (const n of nodes.values()) {
    const v = await waitFor(`a linearizable read on ${n.id}`, () => n.value().catch(() => null));
    assert.ok(v >= acknowledged, `${n.id} reads ${v}, below the ${acknowledged} acknowledged`);
  }

  // The leader goes; the other two elect another and go on; their snapshots move past its log.
  const stopped = await leaderId();
  const before = nodes.get(stopped)!.localValue();
  await nodes.get(stopped)!.stop();
  nodes.delete(stopped);
  const others = ids.filter((id) => id !== stopped);
  for (let i = 0; i < 20; i++) await incrementVia(others[i % 2]!, 1 + (i % 3));

  // Back on its data dir: it recovers what it had applied, then catches up.
  const restarted = await start(stopped);
  nodes.set(stopped, restarted);
  const recovered = restarted.localValue();
  assert.ok(
    recovered.lastApplied > 0 && recovered.lastApplied <= before.lastApplied,
    'from its own snapshot',
  );
  for (let i = 0; i < 6; i++) await incrementVia(stopped, 5);

  const converged = await waitFor('every node applied the same entries', (note) => {
    const seen = [...nodes.values()].map((n) => n.localValue());
    note(seen);
    const first = seen[0]!;
    return seen.every((s) => s.lastApplied === first.lastApplied && s.value === first.value) ? first : null;
  });
  assert.ok(
    converged.value >= acknowledged,
    `final ${converged.value} holds the ${acknowledged} acknowledged`,
  );
  assert.ok(converged.value <= acknowledged + unknown, `final ${converged.value}: nothing applied twice`);
  for (const n of nodes.values()) {
    const v = await waitFor(`a linearizable read on ${n.id}`, () => n.value().catch(() => null));
    assert.equal(v, converged.value, `${n.id} reads the converged value`);
  }
  // Its log ended before the others' snapshots began: it was sent one.
  assert.ok(restarted.snapshots().installed > 0, 'the restarted node installed a leader snapshot');
});

test('the deterministic simulation: replicas agree, nothing acknowledged is lost, a seed replays', async () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const r = await simulate(seed);
    const values = Object.values(r.values);
    assert.equal(new Set(values).size, 1, `seed ${seed}: the replicas agree (${JSON.stringify(r.values)})`);
    assert.ok(r.acknowledged > 0, `seed ${seed}: increments were acknowledged despite the faults`);
    assert.ok(values[0]! >= r.acknowledged, `seed ${seed}: every acknowledged increment is in the count`);
    assert.ok(values[0]! <= r.acknowledged + r.unknown, `seed ${seed}: nothing counted twice`);
  }
  assert.deepEqual(await simulate(7), await simulate(7), 'one seed, one run');
});

/** The text of a class member of `file`, from its first line to its closing brace (two spaces in). */
function member(file: string, signature: string): string {
  const source = readFileSync(new URL(`examples/replicated-counter/${file}`, repo), 'utf8');
  const at = source.indexOf(signature);
  assert.ok(at >= 0, `${file} has ${signature}`);
  const start = source.lastIndexOf('\n', at) + 1;
  return source.slice(start, source.indexOf('\n  }\n', at) + 4);
}

test('docs/embedding.md quotes the example as it runs here', () => {
  const doc = readFileSync(new URL('docs/embedding.md', repo), 'utf8');
  const simulation = readFileSync(new URL('examples/replicated-counter/simulate.ts', repo), 'utf8');
  assert.ok(doc.includes(simulation.trim()), 'the simulation, whole');
  for (const [file, signature] of [
    ['replica.ts', 'async handleReady('],
    ['replica.ts', 'static async open('],
    ['replica.ts', 'private async maybeSnapshot('],
    ['node.ts', 'private schedule('],
  ] as const) {
    assert.ok(doc.includes(member(file, signature)), `${file}: ${signature}…`);
  }
});
