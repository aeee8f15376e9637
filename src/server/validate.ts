// Input validation for the client API, in one place: a request's route, then everything it
// carries — path, query, headers, body — checked by that route's parser before anything reaches
// the node. Every malformed request gets a 400, 404 or 413 naming what is wrong. The write routes
// share their header checks (writeOptions), so put, compare-and-set and delete cannot disagree
// about an Idempotency-Key again.

import { isNodeId, parseHostPort } from '../api/addresses.js';
import { BadRequestError, NotFoundError, TooLargeError } from '../api/errors.js';
import type {
  AddMemberRequest,
  AlarmRequest,
  Consistency,
  DeleteRequest,
  LeaseGrantRequest,
  ListQuery,
  PutRequest,
  ReadQuery,
} from '../api/service.js';
import {
  isWellFormed,
  KV_LIMITS,
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
  | LeaseRoute;

/** The lease routes (docs/leases.md). */
export type LeaseRoute = 'leaseGrant' | 'leaseKeepalive' | 'leaseInfo' | 'leaseRevoke';

/** A request that passed its route's checks, ready for the service. */
export type ClientRequest =
  | { readonly route: 'put'; readonly put: PutRequest }
  | { readonly route: 'delete'; readonly del: DeleteRequest }
  | { readonly route: 'get'; readonly key: string; readonly read: ReadQuery }
  | { readonly route: 'list'; readonly query: ListQuery; readonly read: ReadQuery }
  | { readonly route: 'alarm'; readonly alarm: AlarmRequest }
  | { readonly route: 'members'; readonly consistency: Consistency }
  | { readonly route: 'memberAdd'; readonly member: AddMemberRequest }
  | { readonly route: 'memberPromote' | 'memberRemove'; readonly id: string }
  | { readonly route: 'leaderMove'; readonly to: string | null }
  | LeaseRequest
  | {
      readonly route: 'debug' | 'health' | 'livez' | 'readyz' | 'metrics' | 'snapshot' | 'backup' | 'alarms';
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
  } else if (path === '/debug' && method === 'GET') return 'debug';
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
  else if (path === '/leases' || path.startsWith('/leases/')) return findLeaseRoute(method, path);
  return null;
}

/** Only these routes read their body; the others discard one (read, never refused). */
export function takesBody(route: Route): boolean {
  return (
    route === 'put' ||
    route === 'alarm' ||
    route === 'memberAdd' ||
    route === 'leaderMove' ||
    route === 'leaseGrant'
  );
}

/** Checks everything `route` reads of the request; throws BadRequestError or TooLargeError. */
export function parseRequest(route: Route, head: RequestHead, body: Buffer): ClientRequest {
  switch (route) {
    case 'put':
      return { route, put: parsePutBody(body, writeOptions(head)) };
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
  const minIndex = /^[0-9]{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(minIndex)) {
    throw new BadRequestError(
      `minIndex must be a log index (a non-negative integer), got "${truncate(raw)}"`,
    );
  }
  return { consistency, minIndex };
}

function consistencyOf(q: URLSearchParams): Consistency {
  const c = single(q, 'consistency');
  if (c === null || c === 'linearizable') return 'linearizable';
  if (c === 'stale') return 'stale';
  throw new BadRequestError(`consistency must be "linearizable" or "stale", got "${truncate(c)}"`);
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

function checkMemberId(id: unknown, where: string): string {
  if (typeof id !== 'string' || !isNodeId(id)) {
    throw new BadRequestError(`${where} must be a node id: letters, digits, ".", "_", "-", at most 128`);
  }
  return id;
}

function memberIdFromPath(path: string): string {
  let id: string;
  try {
    id = decodeURIComponent(path.slice('/cluster/members/'.length));
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

function parseListQuery(q: URLSearchParams): ListQuery {
  const prefix = single(q, 'prefix') ?? '';
  if (Buffer.byteLength(prefix) > KV_LIMITS.maxKeyBytes)
    throw new TooLargeError('prefix is longer than the key limit');
  if (!isWellFormed(prefix)) throw new BadRequestError('prefix is not valid UTF-8 (lone surrogate)');
  const startAfter = single(q, 'startAfter');
  if (startAfter !== null) {
    if (Buffer.byteLength(startAfter) > KV_LIMITS.maxKeyBytes)
      throw new TooLargeError('startAfter is longer than the key limit');
    if (!isWellFormed(startAfter))
      throw new BadRequestError('startAfter is not valid UTF-8 (lone surrogate)');
  }
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
