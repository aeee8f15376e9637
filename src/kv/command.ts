// The write commands a log entry carries, and their compact binary encoding (the hot path: every
// write is encoded by the proposer and decoded by every node).
//
// Layout (all strings: varuint byte length + UTF-8; src/codec has the rules):
//   byte 0  format version (1)
//   byte 1  op (low 6 bits: 1 put, 2 cas with a prevValue, 3 cas "must be absent", 4 delete)
//           | 0x40 when a lease id follows (put, cas) | 0x80 when an idempotency key follows
//   key, then value (put, cas), then prevValue (cas with a prevValue), then the lease id
//   (varuint), then the idempotency key.
// A put of a 10-byte key and a 100-byte value costs 114 bytes.
// The space commands (see state-machine.ts) carry no key and no idempotency key:
//   op 5  set the quota: varuint bytes (0: no quota)
//   op 6  raise, op 7 clear a node's no-space alarm: the node id
// A transaction (op 8, | 0x80 with an idempotency key) is one entry:
//   varuint compare count, each: key, u8 target (1 value, 2 version, 3 createIndex,
//           4 modIndex, 5 exists), u8 operator (1 ==, 2 !=, 3 <, 4 >), then the operand:
//           a string (value), a varuint (version, indexes) or a u8 0/1 (exists)
//   varuint success op count, each op; varuint failure op count, each op, where an op is
//           u8 kind (1 put, 2 put with a lease, 3 delete, 4 get), key, value (puts), lease id
//   then the idempotency key if flagged.
// The lease commands carry numbers only (no idempotency key: a lease is granted anew):
//   op 9 grant: varuint ttl seconds (the lease's id is the entry's index)
//   op 10 keepalive: varuint id
//   op 11 revoke: varuint id
//   op 12 expire: varuint id, varuint renewIndex — proposed by a leader whose timer ran out; it
//         applies only if the lease was not renewed since (renewIndex still the lease's).
// Nodes that predate an op decode it as `invalid`: every member must run a version that knows
// the ops in use (docs/upgrades.md).
//
// No timestamp or other de-duplication metadata is stored: idempotency records expire by log
// index (see dedup.ts), which every node already knows, so entries stay small and no clock is
// involved.

import { ByteReader, ByteWriter, isWellFormed } from '../codec/index.js';

export const COMMAND_FORMAT_VERSION = 1;

export interface PutCommand {
  readonly op: 'put';
  readonly key: string;
  readonly value: string;
  /** Ties the key to this lease (the key goes when the lease ends); absent or 0: no lease. */
  readonly lease?: number;
  readonly idempotencyKey?: string;
}

/** Compare-and-set: write only if the current value equals `prevValue` (null: key absent). */
export interface CasCommand {
  readonly op: 'cas';
  readonly key: string;
  readonly value: string;
  readonly prevValue: string | null;
  readonly lease?: number;
  readonly idempotencyKey?: string;
}

export interface DeleteCommand {
  readonly op: 'delete';
  readonly key: string;
  readonly idempotencyKey?: string;
}

export type CompareTarget = 'value' | 'version' | 'createIndex' | 'modIndex' | 'exists';
export type CompareOperator = '==' | '!=' | '<' | '>';

/**
 * One condition of a transaction. The operand's type follows the target: a string for `value`,
 * an integer ≥ 0 for `version`, `createIndex` and `modIndex`, a boolean for `exists`.
 */
export type TxnCompare =
  | { readonly key: string; readonly target: 'value'; readonly op: CompareOperator; readonly value: string }
  | {
      readonly key: string;
      readonly target: 'version' | 'createIndex' | 'modIndex';
      readonly op: CompareOperator;
      readonly value: number;
    }
  | {
      readonly key: string;
      readonly target: 'exists';
      readonly op: CompareOperator;
      readonly value: boolean;
    };

export type TxnOp =
  | { readonly type: 'put'; readonly key: string; readonly value: string; readonly lease?: number }
  | { readonly type: 'delete'; readonly key: string }
  | { readonly type: 'get'; readonly key: string };

/**
 * If every compare holds, the success ops run, else the failure ops: atomically, in one entry.
 * A branch writes (puts or deletes) each key at most once, as in etcd: a key's version counts
 * entries that wrote it, and its metadata must stay what a log could have made.
 */
export interface TxnCommand {
  readonly op: 'txn';
  readonly compare: readonly TxnCompare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
  readonly idempotencyKey?: string;
}

/** A client's write: what Idempotency-Keys, quotas and results are about. */
export type WriteCommand = PutCommand | CasCommand | DeleteCommand | TxnCommand;

/** A new lease of `ttl` seconds; its id is the index of the entry that grants it. */
export interface LeaseGrantCommand {
  readonly op: 'leaseGrant';
  readonly ttl: number;
}

/** Renews a lease: its TTL starts again. */
export interface LeaseKeepaliveCommand {
  readonly op: 'leaseKeepalive';
  readonly id: number;
}

/** Ends a lease now and deletes its keys. */
export interface LeaseRevokeCommand {
  readonly op: 'leaseRevoke';
  readonly id: number;
}

/**
 * A leader's timer for the lease ran out: end it and delete its keys — unless it was renewed
 * after the keepalive (or grant) at `renewIndex` the timer was counting from.
 */
export interface LeaseExpireCommand {
  readonly op: 'leaseExpire';
  readonly id: number;
  readonly renewIndex: number;
}

export type LeaseCommand =
  | LeaseGrantCommand
  | LeaseKeepaliveCommand
  | LeaseRevokeCommand
  | LeaseExpireCommand;

/**
 * The size of the replicated state that growing writes may not pass (0: none). The leader
 * proposes its --quota-bytes when the replicated quota differs, so every replica decides the
 * same writes the same way whatever its own flags say.
 */
export interface QuotaCommand {
  readonly op: 'quota';
  readonly bytes: number;
}

/** A node's free disk fell below its threshold (`active`), or came back above it. */
export interface AlarmCommand {
  readonly op: 'alarm';
  readonly node: string;
  readonly active: boolean;
}

export type SpaceCommand = QuotaCommand | AlarmCommand;
export type Command = WriteCommand | SpaceCommand | LeaseCommand;

const OP_PUT = 1;
const OP_CAS = 2;
const OP_CAS_ABSENT = 3;
const OP_DELETE = 4;
const OP_QUOTA = 5;
const OP_ALARM_RAISE = 6;
const OP_ALARM_CLEAR = 7;
const OP_TXN = 8;
const OP_LEASE_GRANT = 9;
const OP_LEASE_KEEPALIVE = 10;
const OP_LEASE_REVOKE = 11;
const OP_LEASE_EXPIRE = 12;
const FLAG_LEASE = 0x40;
const FLAG_IDEMPOTENCY_KEY = 0x80;
const OP_MASK = 0x3f;

const TARGETS: readonly CompareTarget[] = ['value', 'version', 'createIndex', 'modIndex', 'exists'];
const OPERATORS: readonly CompareOperator[] = ['==', '!=', '<', '>'];
const TXN_PUT = 1;
const TXN_PUT_LEASE = 2;
const TXN_DELETE = 3;
const TXN_GET = 4;

function checkString(what: string, s: string): void {
  if (typeof s !== 'string') throw new TypeError(`${what} must be a string`);
  if (!isWellFormed(s)) throw new TypeError(`${what} contains a lone surrogate and has no UTF-8 form`);
}

/**
 * Encodes a command. Throws TypeError for a command no node could decode back to the same thing
 * (empty key, lone surrogates): callers validate first (limits.ts), so this is a programming error.
 */
export function encodeCommand(cmd: Command): Uint8Array {
  switch (cmd.op) {
    case 'quota':
    case 'alarm':
      return encodeSpaceCommand(cmd);
    case 'leaseGrant':
    case 'leaseKeepalive':
    case 'leaseRevoke':
    case 'leaseExpire':
      return encodeLeaseCommand(cmd);
    case 'txn':
      return encodeTxn(cmd);
  }
  checkKey(cmd.key);
  let op: number;
  switch (cmd.op) {
    case 'put':
      checkString('value', cmd.value);
      op = OP_PUT;
      break;
    case 'cas':
      checkString('value', cmd.value);
      if (cmd.prevValue !== null) checkString('prevValue', cmd.prevValue);
      op = cmd.prevValue === null ? OP_CAS_ABSENT : OP_CAS;
      break;
    case 'delete':
      op = OP_DELETE;
      break;
  }
  const idem = cmd.idempotencyKey;
  checkIdempotencyKey(idem);
  const lease = cmd.op === 'delete' ? 0 : (cmd.lease ?? 0);
  checkLeaseId(lease, true);
  const valueLength = cmd.op === 'delete' ? 0 : cmd.value.length;
  const w = new ByteWriter(24 + 3 * (cmd.key.length + valueLength + (idem?.length ?? 0)));
  w.u8(COMMAND_FORMAT_VERSION);
  w.u8(op | (lease === 0 ? 0 : FLAG_LEASE) | (idem === undefined ? 0 : FLAG_IDEMPOTENCY_KEY));
  w.string(cmd.key);
  if (cmd.op !== 'delete') w.string(cmd.value);
  if (cmd.op === 'cas' && cmd.prevValue !== null) w.string(cmd.prevValue);
  if (lease !== 0) w.varuint(lease);
  if (idem !== undefined) w.string(idem);
  return w.take();
}

function checkKey(key: string): void {
  checkString('key', key);
  if (key.length === 0) throw new TypeError('key must not be empty');
}

function checkIdempotencyKey(idem: string | undefined): void {
  if (idem === undefined) return;
  checkString('idempotencyKey', idem);
  if (idem.length === 0) throw new TypeError('idempotencyKey must not be empty');
}

function checkLeaseId(id: number, zeroAllowed: boolean): void {
  if (!Number.isSafeInteger(id) || id < (zeroAllowed ? 0 : 1))
    throw new TypeError(`lease id must be an integer ≥ ${zeroAllowed ? 0 : 1}`);
}

function checkCount(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`${what} must be an integer ≥ 0`);
}

function encodeTxn(cmd: TxnCommand): Uint8Array {
  const idem = cmd.idempotencyKey;
  checkIdempotencyKey(idem);
  let size = 32 + 3 * (idem?.length ?? 0);
  for (const c of cmd.compare) size += 16 + 3 * (c.key.length + (c.target === 'value' ? c.value.length : 0));
  for (const o of [...cmd.success, ...cmd.failure])
    size += 16 + 3 * (o.key.length + (o.type === 'put' ? o.value.length : 0));
  const w = new ByteWriter(size);
  w.u8(COMMAND_FORMAT_VERSION);
  w.u8(idem === undefined ? OP_TXN : OP_TXN | FLAG_IDEMPOTENCY_KEY);
  w.varuint(cmd.compare.length);
  for (const c of cmd.compare) {
    checkKey(c.key);
    const target = TARGETS.indexOf(c.target);
    const operator = OPERATORS.indexOf(c.op);
    if (target < 0) throw new TypeError(`unknown compare target ${String(c.target)}`);
    if (operator < 0) throw new TypeError(`unknown compare operator ${String(c.op)}`);
    w.string(c.key);
    w.u8(target + 1);
    w.u8(operator + 1);
    if (c.target === 'value') {
      checkString('compare value', c.value);
      w.string(c.value);
    } else if (c.target === 'exists') {
      if (typeof c.value !== 'boolean') throw new TypeError('an exists compare takes true or false');
      w.u8(c.value ? 1 : 0);
    } else {
      checkCount(`a ${c.target} compare's operand`, c.value);
      w.varuint(c.value);
    }
  }
  for (const ops of [cmd.success, cmd.failure]) {
    const twice = keyWrittenTwice(ops);
    if (twice !== null) throw new TypeError(`a transaction branch writes key "${twice}" twice`);
    w.varuint(ops.length);
    for (const o of ops) {
      checkKey(o.key);
      if (o.type === 'put') {
        checkString('value', o.value);
        const lease = o.lease ?? 0;
        checkLeaseId(lease, true);
        w.u8(lease === 0 ? TXN_PUT : TXN_PUT_LEASE);
        w.string(o.key);
        w.string(o.value);
        if (lease !== 0) w.varuint(lease);
      } else {
        w.u8(o.type === 'delete' ? TXN_DELETE : TXN_GET);
        w.string(o.key);
      }
    }
  }
  if (idem !== undefined) w.string(idem);
  return w.take();
}

/** A key that two puts or deletes of one branch write, or null. */
export function keyWrittenTwice(ops: readonly TxnOp[]): string | null {
  const written = new Set<string>();
  for (const o of ops) {
    if (o.type === 'get') continue;
    if (written.has(o.key)) return o.key;
    written.add(o.key);
  }
  return null;
}

function encodeLeaseCommand(cmd: LeaseCommand): Uint8Array {
  const w = new ByteWriter(24);
  w.u8(COMMAND_FORMAT_VERSION);
  switch (cmd.op) {
    case 'leaseGrant':
      if (!Number.isSafeInteger(cmd.ttl) || cmd.ttl < 1)
        throw new TypeError('lease ttl must be an integer ≥ 1');
      w.u8(OP_LEASE_GRANT);
      w.varuint(cmd.ttl);
      break;
    case 'leaseKeepalive':
    case 'leaseRevoke':
      checkLeaseId(cmd.id, false);
      w.u8(cmd.op === 'leaseKeepalive' ? OP_LEASE_KEEPALIVE : OP_LEASE_REVOKE);
      w.varuint(cmd.id);
      break;
    case 'leaseExpire':
      checkLeaseId(cmd.id, false);
      checkCount('renewIndex', cmd.renewIndex);
      w.u8(OP_LEASE_EXPIRE);
      w.varuint(cmd.id);
      w.varuint(cmd.renewIndex);
      break;
  }
  return w.take();
}

function encodeSpaceCommand(cmd: SpaceCommand): Uint8Array {
  const w = new ByteWriter(16 + (cmd.op === 'alarm' ? 3 * cmd.node.length : 0));
  w.u8(COMMAND_FORMAT_VERSION);
  if (cmd.op === 'quota') {
    if (!Number.isSafeInteger(cmd.bytes) || cmd.bytes < 0)
      throw new TypeError('quota bytes must be an integer ≥ 0');
    w.u8(OP_QUOTA);
    w.varuint(cmd.bytes);
  } else {
    checkString('node', cmd.node);
    if (cmd.node.length === 0) throw new TypeError('node must not be empty');
    w.u8(cmd.active ? OP_ALARM_RAISE : OP_ALARM_CLEAR);
    w.string(cmd.node);
  }
  return w.take();
}

/**
 * Decodes a command; throws CodecError (and nothing else) for any malformed input, which the state
 * machine turns into an `invalid` result.
 */
export function decodeCommand(bytes: Uint8Array): Command {
  const r = new ByteReader(bytes, 'command');
  const version = r.u8('version');
  if (version !== COMMAND_FORMAT_VERSION) r.fail(`unknown format version ${version}`, 0);
  const opByte = r.u8('op');
  const op = opByte & OP_MASK;
  const hasIdem = (opByte & FLAG_IDEMPOTENCY_KEY) !== 0;
  const hasLease = (opByte & FLAG_LEASE) !== 0;
  let cmd: Command;
  if (op >= OP_PUT && op <= OP_DELETE && !(hasLease && op === OP_DELETE)) {
    cmd = decodeKeyCommand(r, op, hasLease);
  } else if (op === OP_TXN && !hasLease) {
    cmd = decodeTxn(r);
  } else if (hasIdem || hasLease) {
    return r.fail(`unknown op ${opByte & ~FLAG_IDEMPOTENCY_KEY}`, 1);
  } else if (op >= OP_QUOTA && op <= OP_ALARM_CLEAR) {
    cmd = decodeSpace(r, op);
  } else if (op >= OP_LEASE_GRANT && op <= OP_LEASE_EXPIRE) {
    cmd = decodeLease(r, op);
  } else {
    return r.fail(`unknown op ${op}`, 1);
  }
  if (hasIdem) {
    const idemAt = r.offset;
    const idempotencyKey = r.string('idempotency key');
    if (idempotencyKey.length === 0) r.fail('empty idempotency key', idemAt);
    cmd = { ...(cmd as WriteCommand), idempotencyKey };
  }
  r.end();
  return cmd;
}

function readKey(r: ByteReader, what = 'key'): string {
  const keyAt = r.offset;
  const key = r.string(what);
  if (key.length === 0) r.fail(`empty ${what}`, keyAt);
  return key;
}

function readLeaseId(r: ByteReader): number {
  const at = r.offset;
  const id = r.varuint('lease id');
  if (id === 0) r.fail('lease id 0', at);
  return id;
}

function decodeKeyCommand(r: ByteReader, op: number, hasLease: boolean): WriteCommand {
  const key = readKey(r);
  if (op === OP_DELETE) return { op: 'delete', key };
  const value = r.string('value');
  const prevValue = op === OP_CAS ? r.string('prevValue') : null;
  const lease = hasLease ? { lease: readLeaseId(r) } : {};
  if (op === OP_PUT) return { op: 'put', key, value, ...lease };
  return { op: 'cas', key, value, prevValue, ...lease };
}

function decodeTxn(r: ByteReader): TxnCommand {
  // Every compare and op takes at least 3 bytes: refuse absurd counts before allocating.
  const compareCount = r.count('compare count', 3);
  const compare: TxnCompare[] = [];
  for (let i = 0; i < compareCount; i++) {
    const key = readKey(r);
    const targetAt = r.offset;
    const target = TARGETS[r.u8('compare target') - 1];
    if (target === undefined) r.fail('unknown compare target', targetAt);
    const opAt = r.offset;
    const op = OPERATORS[r.u8('compare operator') - 1];
    if (op === undefined) r.fail('unknown compare operator', opAt);
    if (target === 'value') compare.push({ key, target, op, value: r.string('compare value') });
    else if (target === 'exists') {
      const at = r.offset;
      const b = r.u8('exists operand');
      if (b > 1) r.fail('exists operand not 0 or 1', at);
      compare.push({ key, target, op, value: b === 1 });
    } else compare.push({ key, target, op, value: r.varuint('compare operand') });
  }
  const branches: TxnOp[][] = [];
  for (const branch of ['success', 'failure']) {
    const count = r.count(`${branch} op count`, 3);
    const ops: TxnOp[] = [];
    for (let i = 0; i < count; i++) {
      const kindAt = r.offset;
      const kind = r.u8('txn op');
      const key = readKey(r);
      if (kind === TXN_PUT) ops.push({ type: 'put', key, value: r.string('value') });
      else if (kind === TXN_PUT_LEASE)
        ops.push({ type: 'put', key, value: r.string('value'), lease: readLeaseId(r) });
      else if (kind === TXN_DELETE) ops.push({ type: 'delete', key });
      else if (kind === TXN_GET) ops.push({ type: 'get', key });
      else r.fail(`unknown txn op ${kind}`, kindAt);
    }
    if (keyWrittenTwice(ops) !== null) r.fail(`the ${branch} branch writes a key twice`);
    branches.push(ops);
  }
  return { op: 'txn', compare, success: branches[0]!, failure: branches[1]! };
}

function decodeSpace(r: ByteReader, op: number): SpaceCommand {
  if (op === OP_QUOTA) return { op: 'quota', bytes: r.varuint('quota bytes') };
  const nodeAt = r.offset;
  const node = r.string('node');
  if (node.length === 0) r.fail('empty node id', nodeAt);
  return { op: 'alarm', node, active: op === OP_ALARM_RAISE };
}

function decodeLease(r: ByteReader, op: number): LeaseCommand {
  switch (op) {
    case OP_LEASE_GRANT: {
      const at = r.offset;
      const ttl = r.varuint('lease ttl');
      if (ttl === 0) r.fail('lease ttl 0', at);
      return { op: 'leaseGrant', ttl };
    }
    case OP_LEASE_KEEPALIVE:
      return { op: 'leaseKeepalive', id: readLeaseId(r) };
    case OP_LEASE_REVOKE:
      return { op: 'leaseRevoke', id: readLeaseId(r) };
    default:
      return { op: 'leaseExpire', id: readLeaseId(r), renewIndex: r.varuint('renewIndex') };
  }
}
