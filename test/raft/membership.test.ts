// Goal: the membership rules (chapter 4) as pure functions a reader can check by hand: a change of
// voters enters a joint configuration and leaves it in a second step (§4.3), learners change no
// quorum, refusals name what is wrong, and the membership in force is always the log's latest
// configuration — reverting when a leader's overwrite removes it (§4.1).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  allVoters,
  changeMembership,
  decodeMembership,
  encodeMembership,
  initialMembership,
  isJoint,
  leaveJoint,
  type Membership,
  MembershipDecodeError,
} from '../../src/raft/membership.js';
import { MembershipLog } from '../../src/raft/membership-log.js';
import type { Entry } from '../../src/raft/types.js';

const three = initialMembership({ n1: 'h:1', n2: 'h:2', n3: 'h:3' });

function changed(m: Membership, ...changes: Parameters<typeof changeMembership>[1]): Membership {
  const r = changeMembership(m, changes);
  assert.ok('membership' in r, `refused: ${JSON.stringify(r)}`);
  return r.membership;
}

describe('changing the membership', () => {
  test('adding a learner changes no voter set: one step, not joint', () => {
    const m = changed(three, { kind: 'addLearner', id: 'n4', address: 'h:4' });
    assert.equal(isJoint(m), false);
    assert.deepEqual(m.learners, ['n4']);
    assert.deepEqual(m.voters, ['n1', 'n2', 'n3']);
    assert.equal(m.addresses.n4, 'h:4');
  });

  test('one voter in or out is one step (§4.2): every old majority meets every new one', () => {
    const promoted = changed(changed(three, { kind: 'addLearner', id: 'n4', address: 'h:4' }), {
      kind: 'promote',
      id: 'n4',
    });
    assert.equal(isJoint(promoted), false);
    assert.deepEqual(promoted.voters, ['n1', 'n2', 'n3', 'n4']);
    assert.deepEqual(promoted.learners, []);
    const removed = changed(three, { kind: 'remove', id: 'n3' });
    assert.equal(isJoint(removed), false);
    assert.deepEqual(removed.voters, ['n1', 'n2']);
    assert.equal(removed.addresses.n3, undefined);
  });

  test('two voters changed at once (here: two added) go through a joint configuration', () => {
    const m = changed(
      three,
      { kind: 'addVoter', id: 'n4', address: 'h:4' },
      { kind: 'addVoter', id: 'n5', address: 'h:5' },
    );
    assert.equal(isJoint(m), true);
    assert.deepEqual(m.outgoingVoters, ['n1', 'n2', 'n3']);
    assert.deepEqual(leaveJoint(m), {
      voters: ['n1', 'n2', 'n3', 'n4', 'n5'],
      outgoingVoters: [],
      learners: [],
      autoPromote: [],
      addresses: m.addresses,
    });
  });

  test('a replace is one joint step; the removed voter keeps its address until the joint phase is left', () => {
    const m = changed(three, { kind: 'addVoter', id: 'n4', address: 'h:4' }, { kind: 'remove', id: 'n3' });
    assert.deepEqual(m.voters, ['n1', 'n2', 'n4']);
    assert.deepEqual(m.outgoingVoters, ['n1', 'n2', 'n3']);
    assert.deepEqual(allVoters(m), ['n1', 'n2', 'n4', 'n3']);
    assert.equal(m.addresses.n3, 'h:3');
    const left = leaveJoint(m);
    assert.equal(left.addresses.n3, undefined);
    assert.deepEqual(left.voters, ['n1', 'n2', 'n4']);
  });

  test('refusals name the member and the rule', () => {
    const refused = (m: Membership, ...c: Parameters<typeof changeMembership>[1]) => {
      const r = changeMembership(m, c);
      assert.ok('refused' in r);
      return r.refused;
    };
    assert.deepEqual(refused(three, { kind: 'addLearner', id: 'n2', address: 'h:9' }), {
      reason: 'MemberExists',
      id: 'n2',
    });
    assert.deepEqual(refused(three, { kind: 'addVoter', id: 'n9', address: 'h:2' }), {
      reason: 'AddressInUse',
      id: 'n2',
      address: 'h:2',
    });
    assert.deepEqual(refused(three, { kind: 'remove', id: 'n9' }), { reason: 'MemberNotFound', id: 'n9' });
    assert.deepEqual(refused(three, { kind: 'promote', id: 'n1' }), { reason: 'NotALearner', id: 'n1' });
    const one = initialMembership({ n1: 'h:1' });
    assert.deepEqual(refused(one, { kind: 'remove', id: 'n1' }), { reason: 'LastVoter', id: 'n1' });
    assert.deepEqual(refused(three), { reason: 'NoChange' });
  });

  test('removing a learner drops its address at once', () => {
    const m = changed(changed(three, { kind: 'addLearner', id: 'n4', address: 'h:4' }), {
      kind: 'remove',
      id: 'n4',
    });
    assert.equal(isJoint(m), false);
    assert.deepEqual(m.learners, []);
    assert.equal(m.addresses.n4, undefined);
  });
});

describe('the configuration entry', () => {
  test('round-trips, and refuses what is not a configuration', () => {
    const m = changed(three, { kind: 'addVoter', id: 'n4', address: 'h:4' });
    assert.deepEqual(decodeMembership(encodeMembership(m)), m);
    const bad = (s: string) =>
      assert.throws(() => decodeMembership(new TextEncoder().encode(s)), MembershipDecodeError);
    bad('not json');
    bad('[]');
    bad('{"v":2}');
    bad('{"v":1,"voters":[1],"outgoingVoters":[],"learners":[],"addresses":{}}');
    bad('{"v":1,"voters":[],"outgoingVoters":[],"learners":[],"addresses":{"a":1}}');
  });
});

describe('the membership in force is the log’s latest configuration (§4.1)', () => {
  const entry = (index: number, term: number, m?: Membership): Entry =>
    m === undefined
      ? { index, term, type: 'command', data: new Uint8Array(0) }
      : { index, term, type: 'config', data: encodeMembership(m) };
  const withN4 = changed(three, { kind: 'addLearner', id: 'n4', address: 'h:4' });
  const withN5 = changed(three, { kind: 'addLearner', id: 'n5', address: 'h:5' });

  test('in effect from the moment it is appended, committed or not', () => {
    const log = new MembershipLog(0, 0, three, []);
    log.onAppend([entry(1, 1), entry(2, 1, withN4)]);
    assert.deepEqual(log.current(), withN4);
    assert.equal(log.currentIndex(), 2);
    assert.deepEqual(log.at(1), three);
  });

  test('an overwrite that removes the entry goes back to the configuration before it', () => {
    const log = new MembershipLog(0, 0, three, [entry(1, 1), entry(2, 1, withN4)]);
    assert.deepEqual(log.current(), withN4);
    // A new leader's log differs from index 2 on: its entry there is another configuration.
    log.onAppend([entry(2, 2, withN5)]);
    assert.deepEqual(log.current(), withN5);
    log.onAppend([entry(2, 3), entry(3, 3)]);
    assert.deepEqual(log.current(), three);
    assert.equal(log.currentIndex(), 0);
  });

  test('below an installed snapshot, the configurations the log held before still answer', () => {
    // A state machine still applying entries 1..2 while the core installed a snapshot at 5.
    const log = new MembershipLog(0, 0, three, [entry(1, 1, withN4), entry(2, 1)]);
    log.onRestore(5, 2, withN5);
    assert.deepEqual(log.at(0), three);
    assert.deepEqual(log.at(2), withN4);
    assert.deepEqual(log.at(5), withN5);
  });

  test('a snapshot replaces the log: its membership is in force', () => {
    const log = new MembershipLog(0, 0, three, [entry(1, 1, withN4), entry(2, 1), entry(3, 1, withN5)]);
    assert.deepEqual(log.at(2), withN4);
    log.onRestore(5, 2, three);
    assert.deepEqual(log.current(), three);
    assert.equal(log.currentIndex(), 5);
  });
});
