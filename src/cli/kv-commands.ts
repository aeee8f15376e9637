// `raftkv put|get|del|list|status`: flags, and the command line → the HTTP request (pure).
// kv-output.ts sends it and turns the answer into output and an exit code.

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type ApiRequest, apiRequests, type ClientTls, type TxnBody } from '../client/index.js';
import { checkNodeId, type Endpoint, formatHostPort, parseEndpoints, parseHostPort } from './addresses.js';
import {
  booleanOption,
  type Env,
  type FlagDef,
  noMorePositionals,
  type ParsedArgs,
  parseArgs,
  parseDurationMs,
  parseInteger,
  sourceOf,
  stringOption,
  UsageError,
} from './args.js';
import type { HttpRequest } from './client.js';
import { connectionFlags, parseCredentials, type ReadFile } from './connection-options.js';
import { describeError } from './io.js';

export const exitCodes = {
  ok: 0,
  /** The request failed, or the answer was "no" (key not found, precondition failed). */
  failed: 1,
  usage: 2,
  /** A write failed in a way that leaves its outcome unknown: it may still be applied. */
  unknown: 3,
} as const;

export const defaultEndpoints = '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003';
export const defaultClientTimeoutMs = 10_000;

export const endpointsFlag: FlagDef = {
  name: 'endpoints',
  value: 'HOST:PORT,...',
  env: 'RAFTKV_ENDPOINTS',
  default: defaultEndpoints,
  help: 'nodes to try, in order (the next one after a connection error, timeout or 503)',
};

export const clientFlags: readonly FlagDef[] = [
  endpointsFlag,
  {
    name: 'timeout',
    value: 'MS',
    env: 'RAFTKV_TIMEOUT',
    default: String(defaultClientTimeoutMs),
    help: 'give up on an endpoint after this long',
  },
  { name: 'json', help: "print the server's JSON answer instead of the plain output" },
  ...connectionFlags,
];

const idempotencyFlag: FlagDef = {
  name: 'idempotency-key',
  value: 'K',
  default: 'a random key per invocation',
  help: 'retries with the same key apply the write at most once',
};

export const putFlags: readonly FlagDef[] = [
  { name: 'prev-value', value: 'V', help: 'compare-and-set: write only if the current value is V' },
  { name: 'prev-absent', help: 'compare-and-set: write only if the key is absent' },
  { name: 'lease', value: 'ID', help: 'tie the key to lease ID: it is deleted when the lease ends' },
  idempotencyFlag,
  ...clientFlags,
];
export const getFlags: readonly FlagDef[] = [
  { name: 'stale', help: "serve from the node's local state (may be stale; not linearizable)" },
  ...clientFlags,
];
export const delFlags: readonly FlagDef[] = [idempotencyFlag, ...clientFlags];
export const txnFlags: readonly FlagDef[] = [idempotencyFlag, ...clientFlags];
export const listFlags: readonly FlagDef[] = [
  { name: 'limit', value: 'N', default: "the server's (1000)", help: 'at most N keys' },
  { name: 'stale', help: "serve from the node's local state (may be stale; not linearizable)" },
  ...clientFlags,
];
export const statusFlags: readonly FlagDef[] = clientFlags;
export const memberFlags: readonly FlagDef[] = [
  { name: 'learner', help: 'member add: keep it a learner (default: promoted once caught up)' },
  { name: 'stale', help: "member list: the node's own view (may be stale; not linearizable)" },
  ...clientFlags,
];
export const leaderFlags: readonly FlagDef[] = clientFlags;
export const leaseFlags: readonly FlagDef[] = [
  { name: 'once', help: 'lease keepalive: renew once and exit (default: every TTL/3 until interrupted)' },
  { name: 'stale', help: "lease show: the node's own state (may be stale; not linearizable)" },
  ...clientFlags,
];

/** `raftkv lease ACTION ...` (docs/leases.md) */
export type LeaseAction =
  | { readonly action: 'grant'; readonly ttl: number }
  | { readonly action: 'keepalive'; readonly id: number; readonly once: boolean }
  | { readonly action: 'revoke'; readonly id: number }
  | { readonly action: 'show'; readonly id: number; readonly stale: boolean };

/** `raftkv member ACTION ...` */
export type MemberAction =
  | { readonly action: 'list'; readonly stale: boolean }
  | { readonly action: 'add'; readonly id: string; readonly address: string; readonly learner: boolean }
  | { readonly action: 'promote' | 'remove'; readonly id: string };

/** What a client command does: one or more HTTP requests, then output. */
export type ClientCommand =
  | {
      readonly kind: 'put';
      readonly key: string;
      readonly value: string;
      readonly prevValue?: string | null;
      readonly lease?: number;
    }
  | { readonly kind: 'get'; readonly key: string; readonly stale: boolean }
  | { readonly kind: 'del'; readonly key: string }
  | { readonly kind: 'txn'; readonly body: TxnBody }
  | { readonly kind: 'list'; readonly prefix: string; readonly limit?: number; readonly stale: boolean }
  | { readonly kind: 'status' }
  | { readonly kind: 'member'; readonly member: MemberAction }
  | { readonly kind: 'leader'; readonly to?: string }
  | { readonly kind: 'lease'; readonly lease: LeaseAction };

export interface ClientInvocation {
  readonly command: ClientCommand;
  readonly endpoints: readonly Endpoint[];
  readonly timeoutMs: number;
  readonly json: boolean;
  /** Writes only. */
  readonly idempotencyKey?: string;
  /** Sent as `Authorization: Bearer TOKEN` (nodes with an auth file). */
  readonly token?: string;
  /** For https:// endpoints. */
  readonly tls?: ClientTls;
}

export type ClientCommandName = ClientCommand['kind'];

export const clientCommandFlags: Readonly<Record<ClientCommandName, readonly FlagDef[]>> = {
  put: putFlags,
  get: getFlags,
  del: delFlags,
  txn: txnFlags,
  list: listFlags,
  status: statusFlags,
  member: memberFlags,
  leader: leaderFlags,
  lease: leaseFlags,
};

function needKey(args: ParsedArgs, index: number, what: string): string {
  const v = args.positionals[index];
  if (v === undefined) throw new UsageError(`missing ${what}`);
  if (v === '') throw new UsageError(`${what} must not be empty`);
  return v;
}

/** Parses `raftkv <name> ...`; `newKey` makes the default idempotency key. Throws UsageError. */
export function parseClientCommand(
  name: ClientCommandName,
  argv: readonly string[],
  env: Env,
  newKey: () => string = () => `raftkv-cli-${randomUUID()}`,
  read: ReadFile = readFileSync,
): ClientInvocation {
  const args = parseArgs(argv, clientCommandFlags[name]);
  let command: ClientCommand;
  switch (name) {
    case 'put': {
      const key = needKey(args, 0, 'KEY');
      const value = args.positionals[1];
      if (value === undefined) throw new UsageError('missing VALUE');
      noMorePositionals(args, 2);
      const prev = stringOption(args, 'prev-value');
      const absent = booleanOption(args, 'prev-absent');
      if (prev !== undefined && absent) throw new UsageError('give --prev-value or --prev-absent, not both');
      const lease = stringOption(args, 'lease');
      command = {
        kind: 'put',
        key,
        value,
        ...(prev !== undefined && { prevValue: prev }),
        ...(absent && { prevValue: null }),
        ...(lease !== undefined && { lease: parseLeaseId(lease, '--lease') }),
      };
      break;
    }
    case 'get':
      command = { kind: 'get', key: needKey(args, 0, 'KEY'), stale: booleanOption(args, 'stale') };
      noMorePositionals(args, 1);
      break;
    case 'del':
      command = { kind: 'del', key: needKey(args, 0, 'KEY') };
      noMorePositionals(args, 1);
      break;
    case 'txn':
      command = { kind: 'txn', body: readTxnBody(needKey(args, 0, 'FILE (or - for stdin)'), read) };
      noMorePositionals(args, 1);
      break;
    case 'list': {
      const rawLimit = stringOption(args, 'limit');
      const limit = rawLimit === undefined ? undefined : parseInteger(rawLimit, '--limit', 1);
      command = {
        kind: 'list',
        prefix: args.positionals[0] ?? '',
        ...(limit !== undefined && { limit }),
        stale: booleanOption(args, 'stale'),
      };
      noMorePositionals(args, 1);
      break;
    }
    case 'status':
      command = { kind: 'status' };
      noMorePositionals(args, 0);
      break;
    case 'member':
      command = { kind: 'member', member: parseMemberAction(args) };
      break;
    case 'lease':
      command = { kind: 'lease', lease: parseLeaseAction(args) };
      break;
    case 'leader': {
      if (args.positionals[0] !== 'move') throw new UsageError('expected "raftkv leader move [ID]"');
      const to = args.positionals[1];
      noMorePositionals(args, 2);
      command = to === undefined ? { kind: 'leader' } : { kind: 'leader', to: checkNodeId(to, 'ID') };
      break;
    }
  }
  const endpoints = endpointsOption(args, env);
  const timeoutRaw = stringOption(args, 'timeout', env, 'RAFTKV_TIMEOUT');
  const timeoutMs =
    timeoutRaw === undefined
      ? defaultClientTimeoutMs
      : parseDurationMs(timeoutRaw, sourceOf(args, 'timeout', 'RAFTKV_TIMEOUT'));
  const isWrite = command.kind === 'put' || command.kind === 'del' || command.kind === 'txn';
  const idempotencyKey = isWrite ? (stringOption(args, 'idempotency-key') ?? newKey()) : undefined;
  if (idempotencyKey === '') throw new UsageError('--idempotency-key must not be empty');
  return {
    command,
    endpoints,
    timeoutMs,
    json: booleanOption(args, 'json'),
    ...(idempotencyKey !== undefined && { idempotencyKey }),
    ...parseCredentials(args, env),
  };
}

/**
 * The transaction FILE (`-`: stdin) as a JSON object; the node checks the rest and names the
 * element at fault.
 */
function readTxnBody(file: string, read: ReadFile): TxnBody {
  let text: string;
  try {
    text = read(file === '-' ? '/dev/stdin' : file).toString('utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file === '-' ? 'stdin' : file}: ${describeError(e)}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file === '-' ? 'stdin' : file} is not JSON: ${describeError(e)}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new UsageError(
      'a transaction is a JSON object {"compare": [...], "success": [...], "failure": [...]}',
    );
  }
  return body as TxnBody;
}

/** --endpoints, else RAFTKV_ENDPOINTS, else the default: the nodes `raftkv cluster` runs. */
export function endpointsOption(args: ParsedArgs, env: Env): Endpoint[] {
  const raw = stringOption(args, 'endpoints', env, 'RAFTKV_ENDPOINTS') ?? defaultEndpoints;
  return parseEndpoints(raw, sourceOf(args, 'endpoints', 'RAFTKV_ENDPOINTS'));
}

function parseMemberAction(args: ParsedArgs): MemberAction {
  const [action, id, address] = args.positionals;
  const learner = booleanOption(args, 'learner');
  if (learner && action !== 'add') throw new UsageError('--learner goes with "member add"');
  switch (action) {
    case 'list':
      noMorePositionals(args, 1);
      return { action, stale: booleanOption(args, 'stale') };
    case 'add': {
      if (id === undefined || address === undefined)
        throw new UsageError('expected "raftkv member add ID HOST:PORT"');
      noMorePositionals(args, 3);
      const at = parseHostPort(address, 'ADDRESS');
      return { action, id: checkNodeId(id, 'ID'), address: formatHostPort(at), learner };
    }
    case 'promote':
    case 'remove':
      if (id === undefined) throw new UsageError(`expected "raftkv member ${action} ID"`);
      noMorePositionals(args, 2);
      return { action, id: checkNodeId(id, 'ID') };
    default:
      throw new UsageError(`expected "raftkv member list|add|promote|remove", not "${action ?? ''}"`);
  }
}

/** A lease id: the whole number `raftkv lease grant` printed. */
function parseLeaseId(raw: string, what: string): number {
  return parseInteger(raw, what, 1);
}

/** etcd's largest TTL, as the server checks it (9,000,000,000 s). */
const maxLeaseTtl = 9_000_000_000;

function parseLeaseAction(args: ParsedArgs): LeaseAction {
  const [action, arg] = args.positionals;
  const once = booleanOption(args, 'once');
  const stale = booleanOption(args, 'stale');
  if (once && action !== 'keepalive') throw new UsageError('--once goes with "lease keepalive"');
  if (stale && action !== 'show') throw new UsageError('--stale goes with "lease show"');
  const expected = 'expected "raftkv lease grant TTL | keepalive ID | revoke ID | show ID"';
  switch (action) {
    case 'grant':
      if (arg === undefined) throw new UsageError('expected "raftkv lease grant TTL" (seconds)');
      noMorePositionals(args, 2);
      return { action, ttl: parseInteger(arg, 'TTL', 1, maxLeaseTtl) };
    case 'keepalive':
    case 'revoke':
    case 'show': {
      if (arg === undefined) throw new UsageError(`expected "raftkv lease ${action} ID"`);
      noMorePositionals(args, 2);
      const id = parseLeaseId(arg, 'ID');
      if (action === 'keepalive') return { action, id, once };
      if (action === 'show') return { action, id, stale };
      return { action, id };
    }
    default:
      throw new UsageError(`${expected}, not "${action ?? ''}"`);
  }
}

/** The HTTP request of a single-request command (every one but status). */
export function httpRequestOf(inv: ClientInvocation): HttpRequest {
  return {
    ...apiRequestOf(inv.command, inv.idempotencyKey),
    timeoutMs: inv.timeoutMs,
    ...(inv.token !== undefined && { token: inv.token }),
    ...(inv.tls !== undefined && { tls: inv.tls }),
  };
}

function apiRequestOf(c: ClientCommand, idempotencyKey: string | undefined): ApiRequest {
  const write = idempotencyKey === undefined ? {} : { idempotencyKey };
  const read = (stale: boolean) => (stale ? { consistency: 'stale' as const } : {});
  switch (c.kind) {
    case 'put':
      return apiRequests.put(c.key, c.value, {
        ...write,
        ...(c.prevValue !== undefined && { prevValue: c.prevValue }),
        ...(c.lease !== undefined && { lease: c.lease }),
      });
    case 'get':
      return apiRequests.get(c.key, read(c.stale));
    case 'del':
      return apiRequests.delete(c.key, write);
    case 'txn':
      return apiRequests.txn(c.body, write);
    case 'list':
      return apiRequests.list(c.prefix, {
        ...read(c.stale),
        ...(c.limit !== undefined && { limit: c.limit }),
      });
    case 'status':
      return apiRequests.status();
    case 'member': {
      const m = c.member;
      switch (m.action) {
        case 'list':
          return apiRequests.members(read(m.stale));
        case 'add':
          return apiRequests.addMember(m.id, m.address, { learner: m.learner });
        case 'promote':
          return apiRequests.promoteMember(m.id);
        case 'remove':
          return apiRequests.removeMember(m.id);
      }
      break;
    }
    case 'leader':
      return apiRequests.moveLeader(c.to);
    case 'lease':
      return leaseRequestOf(c.lease);
  }
}

function leaseRequestOf(l: LeaseAction): ApiRequest {
  switch (l.action) {
    case 'grant':
      return apiRequests.leaseGrant(l.ttl);
    case 'keepalive':
      return apiRequests.leaseKeepalive(l.id);
    case 'revoke':
      return apiRequests.leaseRevoke(l.id);
    case 'show':
      return apiRequests.leaseInfo(l.id, l.stale ? { consistency: 'stale' } : {});
  }
}
