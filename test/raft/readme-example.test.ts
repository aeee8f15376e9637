// Goal: the README's example of driving the core runs as written (three nodes in one process,
// messages passed by hand), elects a leader and commits a proposal on every node.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  defaultRaftConfig,
  type Entry,
  initialMembership,
  MemoryLogStorage,
  type Message,
  RawNode,
} from '../../src/raft/index.js';
import { Prng } from '../../src/random.js';

test('README example: three nodes driven by hand elect a leader and commit', () => {
  // --- README example start ---
  const ids = ['a', 'b', 'c'];
  const random = new Prng(42); // any source of nextInt(n): the core draws election timeouts from it
  const nodes = ids.map((id) => {
    const storage = new MemoryLogStorage(initialMembership(ids));
    const raw = new RawNode({ ...defaultRaftConfig, id }, storage, random);
    return { id, raw, storage, applied: [] as Entry[] };
  });
  const network: Message[] = [];

  // Carry out every Ready in THE ORDER documented on the Ready type, then advance().
  function drive(): void {
    for (const n of nodes) {
      while (n.raw.hasReady()) {
        const rd = n.raw.ready();
        network.push(...rd.messages); // 1. may leave before persistence
        if (rd.snapshot) n.storage.applySnapshot(rd.snapshot); // 2. (and restore the state machine)
        n.storage.append(rd.entries); // 3. a real driver writes and fsyncs here
        if (rd.hardState) n.storage.setHardState(rd.hardState);
        network.push(...rd.messagesAfterPersist); // 4. only once durable
        n.applied.push(...rd.committedEntries); // 5. apply to the state machine
        n.raw.advance(rd);
      }
    }
    for (const m of network.splice(0)) nodes.find((n) => n.id === m.to)?.raw.step(m);
  }

  // Time is ticks: tick until someone leads, then propose on the leader.
  let leader = nodes.find((n) => n.raw.status().role === 'leader');
  for (let t = 0; t < 100 && !leader; t++) {
    for (const n of nodes) n.raw.tick();
    drive();
    leader = nodes.find((n) => n.raw.status().role === 'leader');
  }
  const result = leader!.raw.propose(new TextEncoder().encode('x=1'));
  for (let i = 0; i < 10; i++) drive();
  // --- README example end ---

  assert.ok(leader, 'a leader was elected');
  assert.equal(result.kind, 'accepted');
  for (const n of nodes) {
    const last = n.applied[n.applied.length - 1]!;
    assert.equal(new TextDecoder().decode(last.data), 'x=1', `${n.id} applied the proposal`);
  }
});
