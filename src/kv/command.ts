// The write commands a log entry carries, and their compact binary encoding (the hot path: every
// write is encoded by the proposer and decoded by every node).
//
// Layout (all strings: varuint byte length + UTF-8; src/codec has the rules):
//   byte 0  format version (1)
//   byte 1  op (low 7 bits: 1 put, 2 cas with a prevValue, 3 cas "must be absent", 4 delete)
//           | 0x80 when an idempotency key follows
//   key, then value (put, cas), then prevValue (cas with a prevValue), then idempotency key.
// A put of a 10-byte key and a 100-byte value costs 114 bytes.
// The space commands (see state-machine.ts) carry no key and no idempotency key:
//   op 5  set the quota: varuint bytes (0: no quota)
//   op 6  raise, op 7 clear a node's no-space alarm: the node id
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
  readonly idempotencyKey?: string;
}

/** Compare-and-set: write only if the current value equals `prevValue` (null: key absent). */
export interface CasCommand {
  readonly op: 'cas';
  readonly key: string;
  readonly value: string;
  readonly prevValue: string | null;
  readonly idempotencyKey?: string;
}

export interface DeleteCommand {
  readonly op: 'delete';
  readonly key: string;
  readonly idempotencyKey?: string;
}

/** A client's write: what Idempotency-Keys, quotas and results are about. */
export type WriteCommand = PutCommand | CasCommand | DeleteCommand;

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
export type Command = WriteCommand | SpaceCommand;

const OP_PUT = 1;
const OP_CAS = 2;
const OP_CAS_ABSENT = 3;
const OP_DELETE = 4;
const OP_QUOTA = 5;
const OP_ALARM_RAISE = 6;
const OP_ALARM_CLEAR = 7;
const FLAG_IDEMPOTENCY_KEY = 0x80;

function checkString(what: string, s: string): void {
  if (typeof s !== 'string') throw new TypeError(`${what} must be a string`);
  if (!isWellFormed(s)) throw new TypeError(`${what} contains a lone surrogate and has no UTF-8 form`);
}

/**
 * Encodes a command. Throws TypeError for a command no node could decode back to the same thing
 * (empty key, lone surrogates): callers validate first (limits.ts), so this is a programming error.
 */
export function encodeCommand(cmd: Command): Uint8Array {
  if (cmd.op === 'quota' || cmd.op === 'alarm') return encodeSpaceCommand(cmd);
  checkString('key', cmd.key);
  if (cmd.key.length === 0) throw new TypeError('key must not be empty');
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
  if (idem !== undefined) {
    checkString('idempotencyKey', idem);
    if (idem.length === 0) throw new TypeError('idempotencyKey must not be empty');
  }
  const valueLength = cmd.op === 'delete' ? 0 : cmd.value.length;
  const w = new ByteWriter(16 + 3 * (cmd.key.length + valueLength + (idem?.length ?? 0)));
  w.u8(COMMAND_FORMAT_VERSION);
  w.u8(idem === undefined ? op : op | FLAG_IDEMPOTENCY_KEY);
  w.string(cmd.key);
  if (cmd.op !== 'delete') w.string(cmd.value);
  if (cmd.op === 'cas' && cmd.prevValue !== null) w.string(cmd.prevValue);
  if (idem !== undefined) w.string(idem);
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
  const op = opByte & ~FLAG_IDEMPOTENCY_KEY;
  const hasIdem = (opByte & FLAG_IDEMPOTENCY_KEY) !== 0;
  if (op >= OP_QUOTA && op <= OP_ALARM_CLEAR && !hasIdem) {
    let cmd: SpaceCommand;
    if (op === OP_QUOTA) cmd = { op: 'quota', bytes: r.varuint('quota bytes') };
    else {
      const nodeAt = r.offset;
      const node = r.string('node');
      if (node.length === 0) r.fail('empty node id', nodeAt);
      cmd = { op: 'alarm', node, active: op === OP_ALARM_RAISE };
    }
    r.end();
    return cmd;
  }
  if (op < OP_PUT || op > OP_DELETE) r.fail(`unknown op ${op}`, 1);
  const keyAt = r.offset;
  const key = r.string('key');
  if (key.length === 0) r.fail('empty key', keyAt);
  let cmd: Command;
  if (op === OP_DELETE) {
    cmd = { op: 'delete', key };
  } else {
    const value = r.string('value');
    if (op === OP_PUT) cmd = { op: 'put', key, value };
    else cmd = { op: 'cas', key, value, prevValue: op === OP_CAS ? r.string('prevValue') : null };
  }
  if (hasIdem) {
    const idemAt = r.offset;
    const idempotencyKey = r.string('idempotency key');
    if (idempotencyKey.length === 0) r.fail('empty idempotency key', idemAt);
    cmd = { ...cmd, idempotencyKey };
  }
  r.end();
  return cmd;
}
