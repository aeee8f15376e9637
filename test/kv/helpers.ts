// Shared test tools for the key-value state machine: entry builders, fast-check arbitraries for
// commands, and a deliberately naive reference model (a Map plus an array of idempotency records)
// that the real state machine is checked against.

import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import {
  type CasCommand,
  type CompareOperator,
  type DeleteCommand,
  decodeCommand,
  encodeCommand,
  type LeaseCommand,
  type PutCommand,
  type TxnCommand,
  type TxnCompare,
  type TxnOp,
} from '../../src/kv/command.js';

/** The key writes the model knows (transactions and leases have tests of their own). */
type Command = PutCommand | CasCommand | DeleteCommand;

import { DEFAULT_DEDUP_CONFIG, type DedupConfig, recordCharge } from '../../src/kv/dedup.js';
import type { ApplyResult, WriteResult } from '../../src/kv/results.js';
import type { Entry } from '../../src/raft/types.js';

export function commandEntry(index: number, cmd: Command, term = 1): Entry {
  return { term, index, type: 'command', data: encodeCommand(cmd) };
}

export function rawEntry(index: number, data: Uint8Array, term = 1): Entry {
  return { term, index, type: 'command', data };
}

export function noopEntry(index: number, term = 1): Entry {
  return { term, index, type: 'noop', data: new Uint8Array(0) };
}

/**
 * Units that exercise the ordering corner cases: ASCII, a prefix separator, 2- and 3-byte UTF-8,
 * U+FFFD (above the surrogates in UTF-16) and an astral character (a surrogate pair).
 */
const keyUnit = fc.constantFrom('a', 'b', '/', 'é', '\uFFFD', '\u{1F600}', '\uE000');

/** Few distinct keys, so that commands collide on the same keys. */
export const keyArb = fc.string({ unit: keyUnit, minLength: 1, maxLength: 3 });
export const valueArb = fc.string({ unit: keyUnit, maxLength: 4 });
/** Few idempotency keys, so that retries happen. */
export const idemArb = fc.option(fc.constantFrom('i1', 'i2', 'i3', 'i4', 'i5'), { nil: undefined });

function withIdem<T extends Command>(cmd: T, idem: string | undefined): T {
  return idem === undefined ? cmd : { ...cmd, idempotencyKey: idem };
}

export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc
    .tuple(keyArb, valueArb, idemArb)
    .map(([key, value, idem]) => withIdem<Command>({ op: 'put', key, value }, idem)),
  fc
    .tuple(keyArb, valueArb, fc.option(valueArb, { nil: null }), idemArb)
    .map(([key, value, prevValue, idem]) => withIdem<Command>({ op: 'cas', key, value, prevValue }, idem)),
  fc.tuple(keyArb, idemArb).map(([key, idem]) => withIdem<Command>({ op: 'delete', key }, idem)),
);

const compareArb: fc.Arbitrary<TxnCompare> = fc.oneof(
  fc.record({
    key: keyArb,
    target: fc.constant('value' as const),
    op: fc.constantFrom<CompareOperator>('==', '!=', '<', '>'),
    value: valueArb,
  }),
  fc.record({
    key: keyArb,
    target: fc.constantFrom('version' as const, 'createIndex' as const, 'modIndex' as const),
    op: fc.constantFrom<CompareOperator>('==', '!=', '<', '>'),
    value: fc.integer({ min: 0, max: 40 }),
  }),
  fc.record({
    key: keyArb,
    target: fc.constant('exists' as const),
    op: fc.constantFrom<CompareOperator>('==', '!='),
    value: fc.boolean(),
  }),
);

const txnOpArb: fc.Arbitrary<TxnOp> = fc.oneof(
  fc.tuple(keyArb, valueArb).map(([key, value]): TxnOp => ({ type: 'put', key, value })),
  fc.tuple(keyArb, valueArb).map(([key, value]): TxnOp => ({ type: 'put', key, value, lease: 1 })),
  keyArb.map((key): TxnOp => ({ type: 'delete', key })),
  keyArb.map((key): TxnOp => ({ type: 'get', key })),
);

/** Transactions over the same few keys as the other commands. */
export const txnArb: fc.Arbitrary<TxnCommand> = fc
  .tuple(
    fc.array(compareArb, { maxLength: 3 }),
    fc.array(txnOpArb, { maxLength: 4 }),
    fc.array(txnOpArb, { maxLength: 4 }),
    idemArb,
  )
  .map(([compare, success, failure, idem]) => {
    // Plain objects, as decoding makes them (fc.record's have no prototype).
    const once = (ops: TxnOp[]) =>
      ops.filter(
        (o, i) => o.type === 'get' || !ops.slice(0, i).some((p) => p.type !== 'get' && p.key === o.key),
      );
    const txn: TxnCommand = {
      op: 'txn',
      compare: compare.map((c) => ({ ...c })),
      success: once(success),
      failure: once(failure),
    };
    return idem === undefined ? txn : { ...txn, idempotencyKey: idem };
  });

export const leaseCommandArb: fc.Arbitrary<LeaseCommand> = fc.oneof(
  fc.integer({ min: 1, max: 1_000_000 }).map((ttl): LeaseCommand => ({ op: 'leaseGrant', ttl })),
  fc.integer({ min: 1, max: 50 }).map((id): LeaseCommand => ({ op: 'leaseKeepalive', id })),
  fc.integer({ min: 1, max: 50 }).map((id): LeaseCommand => ({ op: 'leaseRevoke', id })),
  fc
    .tuple(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 50 }))
    .map(([id, renewIndex]): LeaseCommand => ({ op: 'leaseExpire', id, renewIndex })),
);

/** Bytes that are not a command (random bytes rarely are; the filter makes sure). */
export const garbageArb = fc.uint8Array({ maxLength: 8 }).filter((data) => {
  try {
    decodeCommand(data);
    return false;
  } catch {
    return true;
  }
});

/** A log suffix: commands, with the odd noop and undecodable entry. */
export type Step = { kind: 'cmd'; cmd: Command } | { kind: 'noop' } | { kind: 'garbage'; data: Uint8Array };

export const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: commandArb.map((cmd): Step => ({ kind: 'cmd', cmd })) },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: 'noop' }) },
  { weight: 1, arbitrary: garbageArb.map((data): Step => ({ kind: 'garbage', data })) },
);

export function stepEntry(index: number, step: Step): Entry {
  switch (step.kind) {
    case 'cmd':
      return commandEntry(index, step.cmd);
    case 'noop':
      return noopEntry(index);
    case 'garbage':
      return rawEntry(index, step.data);
  }
}

/** What the model applies for a step: undecodable bytes are 'invalid' by construction. */
export function modelInput(step: Step): Command | 'noop' | 'invalid' {
  return step.kind === 'cmd' ? step.cmd : step.kind === 'noop' ? 'noop' : 'invalid';
}

/** The specification, written the obvious way. Garbage steps must be given as 'invalid'. */
export class ModelKv {
  /** Each key's value and metadata: version, createIndex and modIndex as etcd defines them. */
  readonly data = new Map<
    string,
    { value: string; version: number; createIndex: number; modIndex: number }
  >();
  lastApplied = 0;
  private records: { idem: string; result: WriteResult }[] = [];

  constructor(readonly dedup: DedupConfig = DEFAULT_DEDUP_CONFIG) {}

  apply(index: number, cmd: Command | 'noop' | 'invalid'): ApplyResult['kind'] | WriteResult {
    this.lastApplied = index;
    this.records = this.records.filter((r) => r.result.index > index - this.dedup.window);
    if (cmd === 'noop' || cmd === 'invalid') return cmd;
    const idem = cmd.idempotencyKey;
    const first = this.records.find((r) => r.idem === idem);
    if (idem !== undefined && first !== undefined) return { ...first.result, replayed: true };
    const result = this.execute(cmd, index);
    if (idem !== undefined) {
      this.records.push({ idem, result });
      const bytes = () =>
        this.records.reduce((n, r) => n + recordCharge({ idempotencyKey: r.idem, ...r }), 0);
      while (this.records.length > this.dedup.maxEntries || bytes() > this.dedup.maxBytes)
        this.records.shift();
    }
    return result;
  }

  private execute(cmd: Command, index: number): WriteResult {
    const { key } = cmd;
    if (cmd.op === 'delete') {
      const deleted = this.data.delete(key);
      return { kind: 'delete', key, deleted, index, replayed: false };
    }
    if (cmd.op === 'cas') {
      const current = this.data.get(key)?.value ?? null;
      if (current !== cmd.prevValue) return { kind: 'conflict', key, value: current, index, replayed: false };
    }
    const old = this.data.get(key);
    const meta = {
      version: (old?.version ?? 0) + 1,
      createIndex: old?.createIndex ?? index,
      modIndex: index,
    };
    this.data.set(key, { value: cmd.value, ...meta });
    return { kind: 'put', key, value: cmd.value, index, ...meta, replayed: false };
  }

  sortedEntries(): { key: string; value: string; version: number; createIndex: number; modIndex: number }[] {
    return [...this.data.entries()].sort(([a], [b]) => utf8Compare(a, b)).map(([key, v]) => ({ key, ...v }));
  }
}

/** Compares an ApplyResult with what the model said for the same entry. */
export function sameAsModel(actual: ApplyResult, expected: ReturnType<ModelKv['apply']>): boolean {
  if (typeof expected === 'string') return actual.kind === expected;
  return isDeepStrictEqual(actual, expected);
}

/** UTF-8 byte order, computed the slow, obviously right way. */
export function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * A version-2 snapshot (before key metadata), written by that release's encoder from: 1 noop;
 * 2 put a=1; 3 put b=x with Idempotency-Key r1; 4 put a=2; 5 delete c (absent); 6 put é=v;
 * 7 quota 100000. Kept as bytes: today's code can no longer write it.
 */
export const V2_SNAPSHOT_GOLDEN: Uint8Array = Buffer.from(
  '524b56530207c0843da08d0680808020a08d06000102723103010162017803016101320162017802c3a9017629b60419',
  'hex',
);
