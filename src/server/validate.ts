// Input validation for the client API, in one place: a request's route, then everything it
// carries — path, query, headers, body — checked by that route's parser before anything reaches
// the node. Every malformed request gets a 400, 404 or 413 naming what is wrong. The write routes
// share their header checks (writeOptions), so put, compare-and-set and delete cannot disagree
// about an Idempotency-Key again.

import { isNodeId, parseHostPort } from '../api/addresses.js';
import { BadRequestError, NotFoundError, TooLargeError } from '../api/errors.js';
import { exerciseNumbers } from '../api/exercises.js';
import { type Faults, type FaultsPatch, faultFields, maxFaultDelayMs } from '../api/faults.js';
import type {
  AddMemberRequest,
  AlarmRequest,
  Consistency,
  DeleteRequest,
  LeaseGrantRequest,
  ListQuery,
  PutRequest,
  ReadQuery,
  TxnCompare,
  TxnOp,
  TxnRequest,
  WatchSpec,
} from '../api/service.js';
import { isNodeAction, type NodeAction, nodeActions } from '../api/supervisor.js';
import {
  isWellFormed,
  KV_LIMITS,
  keyWrittenTwice,
  type ValidationError,
  validateIdempotencyKey,
  validateKey,
  validatePrevValue,
  validateValue,
} from '../kv/index.js';

/** A body holds one key, one value and one prevValue, JSON-escaped (up to 6 bytes per byte). */
export const maxBodyBytes = 64 * 1024 + 6 * (KV_LIMITS.maxKeyBytes + 2 * KV_LIMITS.maxValueBytes);
export const maxListLimit = 10_000;
export const defaultListLimit = 1_000;
const putFields = new Set(['key', 'value', 'prevValue', 'lease']);

/** kv's verdict on a field (one rule set for keys and values: kv/limits.ts) as the API's error. */
function refuse(error: ValidationError | null): void {
  if (error === null) return;
  throw error.kind === 'too_large' ? new TooLargeError(error.message) : new BadRequestError(error.message);
}

function checkKey(key: unknown): string {
  refuse(validateKey(key));
  return key as string;
}

function checkValue(value: unknown): string {
  refuse(validateValue(value));
  return value as string;
}

/** What the server reads of a request before its route's parser sees it. */
export interface RequestHead {
  readonly method: string;
  /** The target before any `?`, still percent-encoded. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** A header's values, one per occurrence; undefined when absent (read only by routes that use it). */
  header(name: string): readonly string[] | undefined;
}

export type Route =
  | 'put'
  | 'txn'
  | 'list'
  | 'get'
  | 'delete'
  | 'debug'
  | 'health'
  | 'livez'
  | 'readyz'
  | 'metrics'
  | 'snapshot'
  | 'backup'
  | 'alarms'
  | 'alarm'
  | 'members'
  | 'memberAdd'
  | 'memberPromote'
  | 'memberRemove'
  | 'leaderMove'
  | 'watch'
  | UiRoute
  | FaultRoute
  | LeaseRoute;

/** The dashboard's routes (docs/dashboard.md): the page, its files, and the cluster's state. */
export type UiRoute = 'ui' | 'uiAsset' | 'uiState' | 'uiFaults' | 'uiProcess' | 'uiExercises' | 'uiExercise';

/** Fault injection (docs/faults.md): GET, POST and DELETE /admin/faults. */
export type FaultRoute = 'faults' | 'faultsSet' | 'faultsHeal';

export function isFaultRoute(route: Route): route is FaultRoute {
  return route === 'faults' || route === 'faultsSet' || route === 'faultsHeal';
}

/** The lease routes (docs/leases.md). */
export type LeaseRoute = 'leaseGrant' | 'leaseKeepalive' | 'leaseInfo' | 'leaseRevoke';

/** A request that passed its route's checks, ready for the service. */
export type ClientRequest =
  | { readonly route: 'put'; readonly put: PutRequest }
  | { readonly route: 'txn'; readonly txn: TxnRequest }
  | { readonly route: 'delete'; readonly del: DeleteRequest }
  | { readonly route: 'get'; readonly key: string; readonly read: ReadQuery }
  | { readonly route: 'list'; readonly query: ListQuery; readonly read: ReadQuery }
  | { readonly route: 'alarm'; readonly alarm: AlarmRequest }
  | { readonly route: 'members'; readonly consistency: Consistency }
  | { readonly route: 'memberAdd'; readonly member: AddMemberRequest }
  | { readonly route: 'memberPromote' | 'memberRemove'; readonly id: string }
  | { readonly route: 'leaderMove'; readonly to: string | null }
  | { readonly route: 'watch'; readonly watch: WatchSpec }
  | { readonly route: 'debug'; readonly logTail: number }
  | { readonly route: 'uiAsset'; readonly name: string }
  /** `faults` null: heal (DELETE). */
  | { readonly route: 'uiFaults'; readonly id: string; readonly faults: FaultsPatch | null }
  /** What POST /ui/nodes/{id}/process asks the supervisor to do to a node's process. */
  | { readonly route: 'uiProcess'; readonly id: string; readonly action: NodeAction }
  | { readonly route: 'uiExercises'; readonly exercise: number }
  | { readonly route: 'uiExercise'; readonly run: string }
  | { readonly route: 'faultsSet'; readonly faults: FaultsPatch }
  | { readonly route: 'faults' | 'faultsHeal' }
  | LeaseRequest
  | {
      readonly route:
        | 'health'
        | 'livez'
        | 'readyz'
        | 'metrics'
        | 'snapshot'
        | 'backup'
        | 'alarms'
        | 'ui'
        | 'uiState';
    };

/** The route a method and path name; NotFoundError (404) for anything else. */
export function routeOf(method: string, path: string): Route {
  const route = findRoute(method, path);
  if (route === null) throw new NotFoundError(`no route for ${method} ${truncate(path)}`);
  return route;
}

/** The route a method and path name, or null. Its name labels the request in the metrics. */
export function findRoute(method: string, path: string): Route | null {
  if (path === '/kv') {
    if (method === 'POST') return 'put';
    if (method === 'GET') return 'list';
  } else if (path.startsWith('/kv/')) {
    if (method === 'GET') return 'get';
    if (method === 'DELETE') return 'delete';
  } else if (path === '/txn' && method === 'POST') return 'txn';
  else if (path === '/debug' && method === 'GET') return 'debug';
  else if (path === '/health' && method === 'GET') return 'health';
  else if (path === '/livez' && method === 'GET') return 'livez';
  else if (path === '/readyz' && method === 'GET') return 'readyz';
  else if (path === '/metrics' && method === 'GET') return 'metrics';
  else if (path === '/admin/snapshot') {
    if (method === 'POST') return 'snapshot';
    if (method === 'GET') return 'backup';
  } else if (path === '/admin/alarms' && method === 'GET') return 'alarms';
  else if (path === '/admin/alarms' && method === 'POST') return 'alarm';
  else if (path === '/cluster/members') {
    if (method === 'GET') return 'members';
    if (method === 'POST') return 'memberAdd';
  } else if (path.startsWith('/cluster/members/')) {
    if (method === 'POST' && path.endsWith('/promote')) return 'memberPromote';
    if (method === 'DELETE') return 'memberRemove';
  } else if (path === '/cluster/leader' && method === 'POST') return 'leaderMove';
  else if (path === '/watch' && method === 'GET') return 'watch';
  else if (path === '/admin/faults') {
    if (method === 'GET') return 'faults';
    if (method === 'POST') return 'faultsSet';
    if (method === 'DELETE') return 'faultsHeal';
  } else if (path === '/leases' || path.startsWith('/leases/')) return findLeaseRoute(method, path);
  else if (path === '/ui' || path.startsWith('/ui/')) return findUiRoute(method, path);
  return null;
}

/** `/ui/nodes/{id}/faults`: a member's faults, set or healed through the node serving the page. */
const uiFaultsPath = /^\/ui\/nodes\/([^/]+)\/faults$/;
/** `/ui/nodes/{id}/process`: a member's process killed or restarted through its supervisor. */
const uiProcessPath = /^\/ui\/nodes\/([^/]+)\/process$/;

/** `/ui/exercises/{run}`: one exercise run, as far as it has got. */
const uiExercisePath = /^\/ui\/exercises\/([^/]+)$/;

function findUiRoute(method: string, path: string): UiRoute | null {
  if (uiFaultsPath.test(path)) return method === 'POST' || method === 'DELETE' ? 'uiFaults' : null;
  if (uiProcessPath.test(path)) return method === 'POST' ? 'uiProcess' : null;
  if (path === '/ui/exercises') return method === 'POST' ? 'uiExercises' : null;
  if (uiExercisePath.test(path)) return method === 'GET' ? 'uiExercise' : null;
  if (method !== 'GET') return null;
  if (path === '/ui' || path === '/ui/') return 'ui';
  if (path === '/ui/state') return 'uiState';
  return 'uiAsset';
}

/** Only these routes read their body; the others discard one (read, never refused). */
export function takesBody(route: Route): boolean {
  return (
    route === 'put' ||
    route === 'txn' ||
    route === 'alarm' ||
    route === 'memberAdd' ||
    route === 'leaderMove' ||
    route === 'leaseGrant' ||
    route === 'faultsSet' ||
    route === 'uiFaults' ||
    route === 'uiProcess' ||
    route === 'uiExercises'
  );
}

/** Checks everything `route` reads of the request; throws BadRequestError or TooLargeError. */
export function parseRequest(route: Route, head: RequestHead, body: Buffer): ClientRequest {
  switch (route) {
    case 'put':
      return { route, put: parsePutBody(body, writeOptions(head)) };
    case 'txn':
      return { route, txn: parseTxnBody(body, writeOptions(head)) };
    case 'delete':
      return { route, del: { key: keyFromPath(head.path), ...writeOptions(head) } };
    case 'get':
      return { route, key: keyFromPath(head.path), read: readQueryOf(head.query) };
    case 'list':
      return { route, query: parseListQuery(head.query), read: readQueryOf(head.query) };
    case 'alarm':
      return { route, alarm: parseAlarmBody(body) };
    case 'members':
      return { route, consistency: consistencyOf(head.query) };
    case 'memberAdd':
      return { route, member: parseMemberBody(body) };
    case 'memberPromote':
      return { route, id: memberIdFromPath(head.path.slice(0, -'/promote'.length)) };
    case 'memberRemove':
      return { route, id: memberIdFromPath(head.path) };
    case 'leaderMove':
      return { route, to: parseLeaderBody(body) };
    case 'watch':
      return { route, watch: parseWatchRequest(head) };
    case 'debug':
      return { route, logTail: parseLogTail(head.query) };
    case 'uiAsset':
      return { route, name: head.path.slice('/ui/'.length) };
    case 'uiFaults':
      return {
        route,
        id: memberIdIn(uiFaultsPath.exec(head.path)?.[1] ?? ''),
        faults: head.method === 'DELETE' ? null : parseFaultsBody(body),
      };
    case 'uiProcess':
      return {
        route,
        id: memberIdIn(uiProcessPath.exec(head.path)?.[1] ?? ''),
        action: parseProcessBody(body),
      };
    case 'uiExercises':
      return { route, exercise: parseExerciseBody(body) };
    case 'uiExercise':
      return { route, run: exerciseRunIn(uiExercisePath.exec(head.path)?.[1] ?? '') };
    case 'faultsSet':
      return { route, faults: parseFaultsBody(body) };
    case 'leaseGrant':
    case 'leaseKeepalive':
    case 'leaseInfo':
    case 'leaseRevoke':
      return parseLeaseRequest(route, head, body);
    default:
      return { route };
  }
}

/** The headers every write route reads: today the Idempotency-Key. */
function writeOptions(head: RequestHead): { idempotencyKey?: string } {
  const values = head.header('idempotency-key');
  if (values === undefined) return {};
  if (values.length > 1) throw new BadRequestError('Idempotency-Key must be given at most once');
  const k = values[0] ?? '';
  const error = validateIdempotencyKey(k);
  // A header too long is a malformed request, not a body too large: 400 either way.
  if (error !== null) throw new BadRequestError(error.message);
  // node:http reads header bytes as Latin-1; printable ASCII is what survives forwarding and logs.
  if (!/^[\x20-\x7e]+$/.test(k)) {
    throw new BadRequestError('Idempotency-Key must be printable ASCII (characters 0x20..0x7e)');
  }
  return { idempotencyKey: k };
}

/** One value of a query parameter, or null; a parameter given twice is ambiguous. */
function single(q: URLSearchParams, name: string): string | null {
  const all = q.getAll(name);
  if (all.length > 1) throw new BadRequestError(`query parameter "${name}" must be given at most once`);
  return all[0] ?? null;
}

/** `consistency` and `minIndex` (a log index, decimal). */
function readQueryOf(q: URLSearchParams): ReadQuery {
  const consistency = consistencyOf(q);
  const raw = single(q, 'minIndex');
  if (raw === null) return { consistency };
  return { consistency, minIndex: logIndex(raw, 'minIndex') };
}

/** A log index written as a plain non-negative decimal integer; `what` names it in the error. */
function logIndex(raw: string, what: string): number {
  const n = /^[0-9]{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new BadRequestError(`${what} must be a log index (a non-negative integer), got "${truncate(raw)}"`);
  }
  return n;
}

/**
 * GET /watch: `key` or `prefix` (exactly one; the same rules as GET /kv/{key} and a listing's
 * prefix), and where to start: `fromIndex`, or the `Last-Event-ID` header (an SSE client's resume
 * point: the watch goes on after it). Given both, the later start wins: a browser's EventSource
 * reconnects to the same URL, fromIndex and all, with the Last-Event-ID it reached, and must not
 * be sent again what it already has.
 */
function parseWatchRequest(head: RequestHead): WatchSpec {
  const q = head.query;
  const key = single(q, 'key');
  const prefix = single(q, 'prefix');
  if (key !== null && prefix !== null) {
    throw new BadRequestError('give either key (one key) or prefix (every key under it) to watch, not both');
  }
  if (key === null && prefix === null) {
    throw new BadRequestError(
      'GET /watch needs ?key=K (one key) or ?prefix=P (every key under P; may be empty)',
    );
  }
  const rawFrom = single(q, 'fromIndex');
  const fromIndex = rawFrom === null ? null : logIndex(rawFrom, 'fromIndex');
  const ids = head.header('last-event-id');
  if (ids !== undefined && ids.length > 1)
    throw new BadRequestError('Last-Event-ID must be given at most once');
  // An empty Last-Event-ID is what an SSE client that has no id yet would send: no resume point.
  const rawId = ids?.[0] ?? '';
  const afterId = rawId === '' ? null : logIndex(rawId, 'Last-Event-ID') + 1;
  const starts = [fromIndex, afterId].filter((n): n is number => n !== null);
  const from = starts.length === 0 ? {} : { from: Math.max(...starts) };
  return key !== null
    ? { key: checkKey(key), ...from }
    : { prefix: checkPrefix(prefix ?? '', 'prefix'), ...from };
}

function consistencyOf(q: URLSearchParams): Consistency {
  const c = single(q, 'consistency');
  if (c === null || c === 'linearizable') return 'linearizable';
  if (c === 'stale' || c === 'lease') return c;
  throw new BadRequestError(`consistency must be "linearizable", "lease" or "stale", got "${truncate(c)}"`);
}

/** Echoing a megabyte of garbage back in an error message helps nobody. */
export function truncate(s: string): string {
  return s.length <= 100 ? s : `${s.slice(0, 100)}… (${s.length} characters)`;
}

export function parsePutBody(body: Buffer, options: { idempotencyKey?: string }): PutRequest {
  const obj = jsonObject(body, '{"key": ..., "value": ...}');
  for (const field of Object.keys(obj)) {
    if (!putFields.has(field))
      throw new BadRequestError(`unknown field "${field}" (expected key, value, prevValue, lease)`);
  }
  if (!('key' in obj)) throw new BadRequestError('missing field "key"');
  if (!('value' in obj)) throw new BadRequestError('missing field "value"');
  const key = checkKey(obj.key);
  const value = checkValue(obj.value);
  const base = { key, value, ...options, ...('lease' in obj && { lease: checkLeaseId(obj.lease, 'lease') }) };
  if (!('prevValue' in obj)) return base;
  refuse(validatePrevValue(obj.prevValue));
  return { ...base, prevValue: obj.prevValue as string | null };
}

const txnFields = new Set(['compare', 'success', 'failure']);
const compareFields = new Set(['key', 'target', 'op', 'value']);
const compareTargets = new Set(['value', 'version', 'createIndex', 'modIndex', 'exists']);
const compareOperators = new Set(['==', '!=', '<', '>']);

/**
 * `{"compare": [...], "success": [op...], "failure": [op...]}` (each list optional, empty by
 * default). Every error names the element at fault, e.g. `success[2].put.value`.
 */
export function parseTxnBody(body: Buffer, options: { idempotencyKey?: string }): TxnRequest {
  const obj = jsonObject(body, '{"compare": [...], "success": [...], "failure": [...]}');
  for (const field of Object.keys(obj)) {
    if (!txnFields.has(field))
      throw new BadRequestError(`unknown field "${field}" (expected compare, success, failure)`);
  }
  const bytes = { used: 0 };
  const compare = listOf(obj.compare, 'compare').map((c, i) => parseCompare(c, `compare[${i}]`, bytes));
  const success = listOf(obj.success, 'success').map((o, i) => parseTxnOp(o, `success[${i}]`, bytes));
  const failure = listOf(obj.failure, 'failure').map((o, i) => parseTxnOp(o, `failure[${i}]`, bytes));
  for (const [name, ops] of [
    ['success', success],
    ['failure', failure],
  ] as const) {
    const twice = keyWrittenTwice(ops);
    if (twice !== null) {
      throw new BadRequestError(
        `${name} writes key ${JSON.stringify(truncate(twice))} twice: a branch may put or delete each key once`,
      );
    }
  }
  return { compare, success, failure, ...options };
}

function listOf(v: unknown, name: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new BadRequestError(`${name} must be a list`);
  if (v.length > KV_LIMITS.maxTxnOps) {
    throw new TooLargeError(
      `${name} has ${v.length} elements; a transaction takes at most ${KV_LIMITS.maxTxnOps}`,
    );
  }
  return v;
}

/** Counts a key or value against the transaction's byte limit (413 past it). */
function charge(bytes: { used: number }, s: string): void {
  bytes.used += Buffer.byteLength(s);
  if (bytes.used > KV_LIMITS.maxTxnBytes) {
    throw new TooLargeError(
      `the transaction's keys and values pass ${KV_LIMITS.maxTxnBytes} bytes; split it or write large values alone`,
    );
  }
}

function fieldsOf(v: unknown, where: string, allowed: ReadonlySet<string>): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new BadRequestError(`${where} must be an object`);
  const obj = v as Record<string, unknown>;
  for (const field of Object.keys(obj)) {
    if (!allowed.has(field)) {
      throw new BadRequestError(
        `${where} has unknown field "${field}" (expected ${[...allowed].join(', ')})`,
      );
    }
  }
  return obj;
}

/** A key or value refused by kv's rules, with the element it came from named. */
function checkAt(where: string, error: ValidationError | null): void {
  if (error === null) return;
  const message = `${where}: ${error.message}`;
  throw error.kind === 'too_large' ? new TooLargeError(message) : new BadRequestError(message);
}

function parseCompare(v: unknown, where: string, bytes: { used: number }): TxnCompare {
  const c = fieldsOf(v, where, compareFields);
  checkAt(`${where}.key`, validateKey(c.key));
  const key = c.key as string;
  charge(bytes, key);
  const { target, op, value } = c;
  if (typeof target !== 'string' || !compareTargets.has(target)) {
    throw new BadRequestError(`${where}.target must be one of value, version, createIndex, modIndex, exists`);
  }
  if (typeof op !== 'string' || !compareOperators.has(op)) {
    throw new BadRequestError(`${where}.op must be one of ==, !=, <, >`);
  }
  const operator = op as TxnCompare['op'];
  if (!('value' in c)) throw new BadRequestError(`${where} is missing "value"`);
  switch (target) {
    case 'value':
      checkAt(`${where}.value`, validateValue(value));
      charge(bytes, value as string);
      return { key, target, op: operator, value: value as string };
    case 'exists':
      if (typeof value !== 'boolean')
        throw new BadRequestError(`${where}.value must be true or false for target exists`);
      if (operator !== '==' && operator !== '!=') {
        throw new BadRequestError(`${where}.op must be == or != for target exists`);
      }
      return { key, target, op: operator, value };
    default:
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        throw new BadRequestError(`${where}.value must be an integer ≥ 0 for target ${target}`);
      }
      return { key, target: target as 'version' | 'createIndex' | 'modIndex', op: operator, value };
  }
}

const opKinds = new Set(['put', 'delete', 'get']);
const txnPutFields = new Set(['key', 'value', 'lease']);
const keyOnlyFields = new Set(['key']);

function parseTxnOp(v: unknown, where: string, bytes: { used: number }): TxnOp {
  const wrapper = fieldsOf(v, where, opKinds);
  const kinds = Object.keys(wrapper);
  if (kinds.length !== 1)
    throw new BadRequestError(`${where} must be exactly one of {"put": ...}, {"delete": ...}, {"get": ...}`);
  const type = kinds[0] as 'put' | 'delete' | 'get';
  const at = `${where}.${type}`;
  const o = fieldsOf(wrapper[type], at, type === 'put' ? txnPutFields : keyOnlyFields);
  checkAt(`${at}.key`, validateKey(o.key));
  const key = o.key as string;
  charge(bytes, key);
  if (type !== 'put') return { type, key };
  if (!('value' in o)) throw new BadRequestError(`${at} is missing "value"`);
  checkAt(`${at}.value`, validateValue(o.value));
  const value = o.value as string;
  charge(bytes, value);
  if (o.lease === undefined) return { type, key, value };
  return { type, key, value, lease: checkLeaseId(o.lease, `${at}.lease`) };
}

function checkMemberId(id: unknown, where: string): string {
  if (typeof id !== 'string' || !isNodeId(id)) {
    throw new BadRequestError(`${where} must be a node id: letters, digits, ".", "_", "-", at most 128`);
  }
  return id;
}

function memberIdFromPath(path: string): string {
  return memberIdIn(path.slice('/cluster/members/'.length));
}

/** A member id, URL-encoded in a path. */
function memberIdIn(encoded: string): string {
  let id: string;
  try {
    id = decodeURIComponent(encoded);
  } catch {
    throw new BadRequestError('the member id in the path is not valid URL-encoded UTF-8');
  }
  return checkMemberId(id, 'the member id in the path');
}

const memberFields = new Set(['id', 'address', 'learner']);

/** `{"id": ..., "address": "host:port", "learner": bool}` (learner defaults to false). */
function parseMemberBody(body: Buffer): AddMemberRequest {
  const obj = jsonObject(body, '{"id": ..., "address": "HOST:PORT", "learner": true|false}');
  for (const field of Object.keys(obj)) {
    if (!memberFields.has(field))
      throw new BadRequestError(`unknown field "${field}" (expected id, address, learner)`);
  }
  const id = checkMemberId(obj.id, 'id');
  const { address, learner } = obj;
  if (typeof address !== 'string' || parseHostPort(address) === null) {
    throw new BadRequestError(
      'address must be HOST:PORT (an IPv6 host in brackets), where peers and clients reach it',
    );
  }
  if (learner !== undefined && typeof learner !== 'boolean')
    throw new BadRequestError('learner must be true or false');
  return { id, address, learner: learner === true };
}

/** `{"to": id}` or `{}` (the most caught-up voter). */
function parseLeaderBody(body: Buffer): string | null {
  const obj = body.length === 0 ? {} : jsonObject(body, '{"to": ID} or {}');
  for (const field of Object.keys(obj)) {
    if (field !== 'to') throw new BadRequestError(`unknown field "${field}" (expected to)`);
  }
  return obj.to === undefined || obj.to === null ? null : checkMemberId(obj.to, 'to');
}

const alarmFields = new Set(['node', 'alarm', 'active']);

/** `{"node": id, "alarm": "no_space", "active": bool}` */
function parseAlarmBody(body: Buffer): AlarmRequest {
  const obj = jsonObject(body, '{"node": ..., "alarm": "no_space", "active": true|false}');
  for (const field of Object.keys(obj)) {
    if (!alarmFields.has(field))
      throw new BadRequestError(`unknown field "${field}" (expected node, alarm, active)`);
  }
  const { node, alarm, active } = obj;
  if (typeof node !== 'string' || node.length === 0 || node.length > 256 || !isWellFormed(node)) {
    throw new BadRequestError('node must be a node id (a non-empty UTF-8 string of at most 256 characters)');
  }
  if (alarm !== 'no_space') throw new BadRequestError('alarm must be "no_space"');
  if (typeof active !== 'boolean') throw new BadRequestError('active must be true or false');
  return { node, active };
}

/** The body parsed as one JSON object, or BadRequestError saying what it should look like. */
function jsonObject(body: Buffer, shape: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new BadRequestError(`body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BadRequestError(`body must be a JSON object ${shape}`);
  }
  return parsed as Record<string, unknown>;
}

function keyFromPath(path: string): string {
  let key: string;
  try {
    key = decodeURIComponent(path.slice('/kv/'.length));
  } catch {
    throw new BadRequestError('key in the path is not valid URL-encoded UTF-8');
  }
  return checkKey(key);
}

/** A prefix or a key bound of a query: within the key limit (413 past it), well-formed UTF-8. */
function checkPrefix(s: string, what: string): string {
  if (Buffer.byteLength(s) > KV_LIMITS.maxKeyBytes)
    throw new TooLargeError(`${what} is longer than the key limit`);
  if (!isWellFormed(s)) throw new BadRequestError(`${what} is not valid UTF-8 (lone surrogate)`);
  return s;
}

/** The most log entries GET /debug?logTail=N shows. */
export const maxLogTail = 100;

function parseLogTail(q: URLSearchParams): number {
  const raw = single(q, 'logTail');
  if (raw === null) return 0;
  const n = /^[0-9]{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n > maxLogTail) {
    throw new BadRequestError(`logTail must be an integer in 0..${maxLogTail}`);
  }
  return n;
}

function parseListQuery(q: URLSearchParams): ListQuery {
  const prefix = checkPrefix(single(q, 'prefix') ?? '', 'prefix');
  const startAfter = single(q, 'startAfter');
  if (startAfter !== null) checkPrefix(startAfter, 'startAfter');
  const after = startAfter === null ? {} : { startAfter };
  const raw = single(q, 'limit');
  if (raw === null) return { prefix, limit: defaultListLimit, ...after };
  const limit = /^[0-9]{1,6}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > maxListLimit) {
    throw new BadRequestError(`limit must be an integer in 1..${maxListLimit}`);
  }
  return { prefix, limit, ...after };
}

// --- leases (docs/leases.md) ---------------------------------------------------------------------

/** A checked lease request. */
export type LeaseRequest =
  | { readonly route: 'leaseGrant'; readonly grant: LeaseGrantRequest }
  | { readonly route: 'leaseKeepalive' | 'leaseRevoke'; readonly id: number }
  | { readonly route: 'leaseInfo'; readonly id: number; readonly read: ReadQuery };

/** etcd's largest TTL (9,000,000,000 s: about 285 years). */
export const maxLeaseTtl = 9_000_000_000;

/** POST /leases, POST /leases/{id}/keepalive, GET and DELETE /leases/{id}; null for anything else. */
function findLeaseRoute(method: string, path: string): LeaseRoute | null {
  if (path === '/leases') return method === 'POST' ? 'leaseGrant' : null;
  if (method === 'POST') return path.endsWith('/keepalive') ? 'leaseKeepalive' : null;
  if (method === 'GET') return 'leaseInfo';
  if (method === 'DELETE') return 'leaseRevoke';
  return null;
}

function parseLeaseRequest(route: LeaseRoute, head: RequestHead, body: Buffer): LeaseRequest {
  switch (route) {
    case 'leaseGrant':
      return { route, grant: parseLeaseGrantBody(body) };
    case 'leaseKeepalive':
      return { route, id: leaseIdFromPath(head.path.slice(0, -'/keepalive'.length)) };
    case 'leaseRevoke':
      return { route, id: leaseIdFromPath(head.path) };
    case 'leaseInfo':
      return { route, id: leaseIdFromPath(head.path), read: readQueryOf(head.query) };
  }
}

/** A lease id (the log index of its grant): a positive safe integer. */
function checkLeaseId(id: unknown, where: string): number {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
    throw new BadRequestError(
      `${where} must be a lease id (a positive integer), got ${truncate(JSON.stringify(id) ?? String(id))}`,
    );
  }
  return id;
}

function leaseIdFromPath(path: string): number {
  const raw = path.slice('/leases/'.length);
  const id = /^[0-9]{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(id) || id < 1) {
    throw new BadRequestError(`the lease id in the path must be a positive integer, got "${truncate(raw)}"`);
  }
  return id;
}

/** `{"ttl": seconds}`: an integer in 1..maxLeaseTtl. */
function parseLeaseGrantBody(body: Buffer): LeaseGrantRequest {
  const obj = jsonObject(body, '{"ttl": SECONDS}');
  for (const field of Object.keys(obj)) {
    if (field !== 'ttl') throw new BadRequestError(`unknown field "${field}" (expected ttl)`);
  }
  if (!('ttl' in obj)) throw new BadRequestError('missing field "ttl"');
  const { ttl } = obj;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > maxLeaseTtl) {
    throw new BadRequestError(
      `ttl must be a whole number of seconds in 1..${maxLeaseTtl}, got ${truncate(JSON.stringify(ttl))}`,
    );
  }
  return { ttl };
}

// --- fault injection (docs/faults.md) ------------------------------------------------------------

/** More ids than a cluster has members is a mistake, not a partition. */
const maxFaultIds = 256;

function faultError(field: string, message: string): BadRequestError {
  return new BadRequestError(`${field} ${message}`, { field });
}

/**
 * `{"dropTo": [ids], "dropFrom": [ids], "isolate": bool, "paused": bool, "diskDelayMs": n,
 * "messageDelayMs": n}`, any subset (an empty body changes nothing). The shape is checked here;
 * whether the ids are members is the node's to say (src/node/faults.ts).
 */
export function parseFaultsBody(body: Buffer): FaultsPatch {
  const obj = body.length === 0 ? {} : jsonObject(body, `with any of ${faultFields.join(', ')}`);
  const patch: { -readonly [K in keyof Faults]?: Faults[K] } = {};
  for (const [field, value] of Object.entries(obj)) {
    switch (field) {
      case 'dropTo':
      case 'dropFrom':
        patch[field] = faultIds(value, field);
        break;
      case 'isolate':
      case 'paused':
        if (typeof value !== 'boolean') throw faultError(field, 'must be true or false');
        patch[field] = value;
        break;
      case 'diskDelayMs':
      case 'messageDelayMs':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > maxFaultDelayMs) {
          throw faultError(
            field,
            `must be a whole number of milliseconds in 0..${maxFaultDelayMs}, got ${truncate(JSON.stringify(value))}`,
          );
        }
        patch[field] = value;
        break;
      default:
        throw new BadRequestError(`unknown field "${truncate(field)}" (expected ${faultFields.join(', ')})`, {
          field: truncate(field),
        });
    }
  }
  return patch;
}

/** `{"action": "kill"|"stop"|"restart"}`. */
function parseProcessBody(body: Buffer): NodeAction {
  const expected = nodeActions.map((a) => `"${a}"`).join('|');
  const obj = jsonObject(body, `{"action": ${expected}}`);
  for (const field of Object.keys(obj)) {
    if (field !== 'action') {
      throw new BadRequestError(`unknown field "${truncate(field)}" (expected action)`, {
        field: truncate(field),
      });
    }
  }
  const action = obj.action;
  if (!isNodeAction(action)) {
    throw new BadRequestError(
      `action must be one of ${nodeActions.join(', ')}, got ${truncate(JSON.stringify(action) ?? 'nothing')}`,
      { field: 'action' },
    );
  }
  return action;
}

/** `{"exercise": N}`, N one of the exercises' numbers (docs/exercises.md). */
export function parseExerciseBody(body: Buffer): number {
  const known = exerciseNumbers;
  const obj = jsonObject(body, `{"exercise": ${known.join('|')}}`);
  for (const field of Object.keys(obj)) {
    if (field !== 'exercise') {
      throw new BadRequestError(`unknown field "${truncate(field)}" (expected exercise)`, {
        field: truncate(field),
      });
    }
  }
  const n = obj.exercise;
  if (typeof n !== 'number' || !known.includes(n)) {
    throw new BadRequestError(
      `exercise must be one of ${known.join(', ')}, got ${truncate(JSON.stringify(n) ?? 'nothing')}`,
      { field: 'exercise' },
    );
  }
  return n;
}

/** An exercise run's id as made by exercise-runs.ts: letters, digits and "-", at most 64. */
const runIdPattern = /^[A-Za-z0-9-]{1,64}$/;

/** The run id in a path (`/ui/exercises/{run}`, the supervisor's `/exercises/{run}`). */
export function exerciseRunIn(encoded: string): string {
  let run: string;
  try {
    run = decodeURIComponent(encoded);
  } catch {
    throw new BadRequestError('the run id in the path is not valid URL-encoded UTF-8', { field: 'run' });
  }
  if (!runIdPattern.test(run)) {
    throw new BadRequestError(
      `the run id in the path must be letters, digits and "-" (at most 64), got ${truncate(JSON.stringify(run))}`,
      { field: 'run' },
    );
  }
  return run;
}

function faultIds(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) throw faultError(field, 'must be a list of member ids');
  if (value.length > maxFaultIds) throw faultError(field, `names more than ${maxFaultIds} ids`);
  return value.map((id, i) => {
    if (typeof id !== 'string' || !isNodeId(id)) {
      throw faultError(
        `${field}[${i}]`,
        `must be a member id (letters, digits, ".", "_", "-", at most 128), got ${truncate(JSON.stringify(id) ?? String(id))}`,
      );
    }
    return id;
  });
}
