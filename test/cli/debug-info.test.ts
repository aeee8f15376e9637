// Goal: the cluster supervisor and `raftkv status` read /debug answers and name the leader right.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DebugInfo, formatTable, leaderOf, parseDebug } from '../../src/cli/debug-info.js';

const info = (nodeId: string, state: string, term: number, leaderId: string | null): DebugInfo => ({
  nodeId,
  state,
  term,
  leaderId,
  commitIndex: 0,
  lastApplied: 0,
  space: 'ok',
  role: 'voter',
  members: 'n1,n2,n3',
});

test('parseDebug reads the documented fields and tolerates missing optional ones', () => {
  assert.deepEqual(
    parseDebug({
      nodeId: 'n1',
      state: 'leader',
      term: 2,
      leaderId: 'n1',
      commitIndex: 5,
      lastApplied: 5,
      x: 1,
    }),
    {
      nodeId: 'n1',
      state: 'leader',
      term: 2,
      leaderId: 'n1',
      commitIndex: 5,
      lastApplied: 5,
      space: '-',
      role: '-',
      members: '-',
    },
  );
  const role = (m: unknown, id = 'n4') => {
    const d = parseDebug({ nodeId: id, state: 'follower', term: 2, membership: m });
    return `${d?.role} ${d?.members}`;
  };
  const m = {
    voters: ['n1', 'n2', 'n4'],
    outgoingVoters: ['n1', 'n2', 'n3'],
    learners: ['n5'],
    committed: false,
  };
  assert.equal(role(m), 'voter n1,n2,n4 & n1,n2,n3 +n5 (uncommitted)');
  assert.equal(role(m, 'n3'), 'leaving n1,n2,n4 & n1,n2,n3 +n5 (uncommitted)');
  assert.equal(role({ ...m, outgoingVoters: [], committed: true }, 'n5'), 'learner n1,n2,n4 +n5');
  assert.equal(role({ voters: [], outgoingVoters: [], learners: [] }, 'n9'), 'none (none yet)');
  const space = (s: unknown) => parseDebug({ nodeId: 'n1', state: 'leader', term: 2, space: s })?.space;
  assert.equal(space({ alarms: [], refusing: false }), 'ok');
  assert.equal(space({ alarms: ['n2', 'n3'], refusing: true }), 'no_space: n2,n3 low on disk');
  assert.equal(space({ alarms: [], refusing: true }), 'no_space: quota full');
  const partial = parseDebug({ nodeId: 'n1', state: 'follower', term: 0, leaderId: null });
  assert.equal(partial?.leaderId, null);
  assert.ok(Number.isNaN(partial?.commitIndex));
  assert.equal(parseDebug({ error: 'x' }), undefined);
  assert.equal(parseDebug(null), undefined);
});

test('leaderOf: the self-declared leader of the highest term, else who that term names', () => {
  assert.equal(leaderOf([]), undefined);
  assert.deepEqual(leaderOf([info('n1', 'follower', 3, 'n2'), info('n2', 'leader', 3, 'n2')]), {
    leaderId: 'n2',
    term: 3,
  });
  assert.deepEqual(
    leaderOf([info('n1', 'leader', 2, 'n1'), info('n2', 'follower', 3, 'n3')]),
    { leaderId: 'n3', term: 3 },
    'a stale leader of an older term is not the leader',
  );
  assert.equal(leaderOf([info('n1', 'leader', 2, 'n1'), info('n2', 'candidate', 3, null)]), undefined);
});

test("formatTable pads columns but not a row's long last cell", () => {
  assert.equal(
    formatTable(
      ['A', 'BB'],
      [
        ['xyz', '1'],
        ['q', 'a long message'],
      ],
    ),
    'A    BB\nxyz  1\nq    a long message\n',
  );
});
