// fast-check generators for every wire message, biased towards the values a codec gets wrong:
// varint boundaries, numbers beyond 2^32 up to Number.MAX_SAFE_INTEGER, empty and non-ASCII
// strings, empty and non-empty byte strings.

import fc from 'fast-check';
import type { Entry, Message, MessageType } from '../../src/raft/types.js';

export const uint: fc.Arbitrary<number> = fc.oneof(
  fc.nat(300),
  fc.maxSafeNat(),
  fc.constantFrom(
    0,
    127,
    128,
    16383,
    16384,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 49,
    2 ** 53 - 1,
  ),
);

export const nodeId: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('n1', 'n2', 'n3'),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
);

/** Records with an ordinary prototype, like the messages the core builds (fast-check's default is null). */
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}

const data = fc.uint8Array({ maxLength: 48 });

export const entry: fc.Arbitrary<Entry> = rec({
  term: uint,
  index: uint,
  type: fc.constantFrom('command' as const, 'noop' as const),
  data,
});

const base = { from: nodeId, to: nodeId, term: uint };

export const messageArbitraries: {
  readonly [T in MessageType]: fc.Arbitrary<Extract<Message, { type: T }>>;
} = {
  RequestVote: rec({
    type: fc.constant('RequestVote' as const),
    ...base,
    lastLogIndex: uint,
    lastLogTerm: uint,
    transfer: fc.boolean(),
  }),
  RequestVoteResponse: rec({
    type: fc.constant('RequestVoteResponse' as const),
    ...base,
    granted: fc.boolean(),
  }),
  PreVote: rec({
    type: fc.constant('PreVote' as const),
    ...base,
    lastLogIndex: uint,
    lastLogTerm: uint,
  }),
  PreVoteResponse: rec({
    type: fc.constant('PreVoteResponse' as const),
    ...base,
    granted: fc.boolean(),
  }),
  AppendEntries: rec({
    type: fc.constant('AppendEntries' as const),
    ...base,
    prevLogIndex: uint,
    prevLogTerm: uint,
    entries: fc.array(entry, { maxLength: 6 }),
    leaderCommit: uint,
  }),
  AppendEntriesResponse: rec({
    type: fc.constant('AppendEntriesResponse' as const),
    ...base,
    success: fc.boolean(),
    matchIndex: uint,
    rejectedIndex: uint,
    hintIndex: uint,
    hintTerm: uint,
  }),
  Heartbeat: rec({ type: fc.constant('Heartbeat' as const), ...base, leaderCommit: uint, readRound: uint }),
  HeartbeatResponse: rec({ type: fc.constant('HeartbeatResponse' as const), ...base, readRound: uint }),
  InstallSnapshot: rec({
    type: fc.constant('InstallSnapshot' as const),
    ...base,
    snapshot: rec({
      meta: rec({
        index: uint,
        term: uint,
        membership: rec({
          voters: fc.array(nodeId, { maxLength: 5 }),
          outgoingVoters: fc.array(nodeId, { maxLength: 5 }),
          learners: fc.array(nodeId, { maxLength: 3 }),
          autoPromote: fc.array(nodeId, { maxLength: 3 }),
          addresses: fc.dictionary(nodeId, fc.string({ maxLength: 30 }), {
            maxKeys: 5,
            noNullPrototype: true,
          }),
        }),
      }),
      data: fc.uint8Array({ maxLength: 512 }),
    }),
  }),
  TimeoutNow: rec({ type: fc.constant('TimeoutNow' as const), ...base }),
  ReadIndexRequest: rec({
    type: fc.constant('ReadIndexRequest' as const),
    ...base,
    context: fc.string({ unit: 'binary', maxLength: 24 }),
  }),
  LeaseReadIndexRequest: rec({
    type: fc.constant('LeaseReadIndexRequest' as const),
    ...base,
    context: fc.string({ unit: 'binary', maxLength: 24 }),
  }),
  ReadIndexResponse: rec({
    type: fc.constant('ReadIndexResponse' as const),
    ...base,
    context: fc.string({ maxLength: 24 }),
    readIndex: uint,
  }),
};

export const anyMessage: fc.Arbitrary<Message> = fc.oneof(
  ...Object.values(messageArbitraries).map((a) => a as fc.Arbitrary<Message>),
);
