// Input validation for the client API: every malformed request gets a 400 or 413 with a message
// saying what is wrong, before it reaches the node.

import { KV_LIMITS } from '../kv/index.js';
import { BadRequestError, TooLargeError } from '../node/errors.js';
import type { PutRequest } from '../node/service.js';

/** A body holds one key, one value and one prevValue, JSON-escaped (up to 6 bytes per byte). */
export const maxBodyBytes = 64 * 1024 + 6 * (KV_LIMITS.maxKeyBytes + 2 * KV_LIMITS.maxValueBytes);
export const maxListLimit = 10_000;
export const defaultListLimit = 1_000;
const maxIdempotencyKeyBytes = 256;
const putFields = new Set(['key', 'value', 'prevValue']);

function checkKey(key: unknown, where: string): string {
  if (typeof key !== 'string') throw new BadRequestError(`${where} must be a string`);
  if (key.length === 0) throw new BadRequestError(`${where} must not be empty`);
  const bytes = Buffer.byteLength(key);
  if (bytes > KV_LIMITS.maxKeyBytes) {
    throw new TooLargeError(`${where} is ${bytes} bytes; the limit is ${KV_LIMITS.maxKeyBytes}`);
  }
  if (!isWellFormed(key)) throw new BadRequestError(`${where} is not valid UTF-8 (lone surrogate)`);
  return key;
}

function checkValue(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new BadRequestError(`${where} must be a string`);
  const bytes = Buffer.byteLength(value);
  if (bytes > KV_LIMITS.maxValueBytes) {
    throw new TooLargeError(`${where} is ${bytes} bytes; the limit is ${KV_LIMITS.maxValueBytes}`);
  }
  if (!isWellFormed(value)) throw new BadRequestError(`${where} is not valid UTF-8 (lone surrogate)`);
  return value;
}

/** String.prototype.isWellFormed arrived after Node 20; a lone surrogate cannot round-trip UTF-8. */
function isWellFormed(s: string): boolean {
  return !/\p{Surrogate}/u.test(s);
}

function checkIdempotencyKey(k: string | undefined): { idempotencyKey?: string } {
  if (k === undefined) return {};
  if (k.length === 0 || Buffer.byteLength(k) > maxIdempotencyKeyBytes) {
    throw new BadRequestError(`Idempotency-Key must be 1..${maxIdempotencyKeyBytes} bytes`);
  }
  return { idempotencyKey: k };
}

export function parsePutBody(body: Buffer, idempotencyKey: string | undefined): PutRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new BadRequestError(`body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BadRequestError('body must be a JSON object {"key": ..., "value": ...}');
  }
  const obj = parsed as Record<string, unknown>;
  for (const field of Object.keys(obj)) {
    if (!putFields.has(field))
      throw new BadRequestError(`unknown field "${field}" (expected key, value, prevValue)`);
  }
  if (!('key' in obj)) throw new BadRequestError('missing field "key"');
  if (!('value' in obj)) throw new BadRequestError('missing field "value"');
  const key = checkKey(obj.key, 'key');
  const value = checkValue(obj.value, 'value');
  const base = { key, value, ...checkIdempotencyKey(idempotencyKey) };
  if (!('prevValue' in obj)) return base;
  const prev = obj.prevValue === null ? null : checkValue(obj.prevValue, 'prevValue');
  return { ...base, prevValue: prev };
}

function keyFromPath(path: string): string {
  let key: string;
  try {
    key = decodeURIComponent(path.slice('/kv/'.length));
  } catch {
    throw new BadRequestError('key in the path is not valid URL-encoded UTF-8');
  }
  return checkKey(key, 'key');
}

export const parseGetKey = keyFromPath;
export const parseDeleteKey = keyFromPath;

export function parseListQuery(q: URLSearchParams): { prefix: string; limit: number } {
  const prefix = q.get('prefix') ?? '';
  if (Buffer.byteLength(prefix) > KV_LIMITS.maxKeyBytes)
    throw new TooLargeError('prefix is longer than the key limit');
  const raw = q.get('limit');
  if (raw === null) return { prefix, limit: defaultListLimit };
  const limit = Number(raw);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > maxListLimit) {
    throw new BadRequestError(`limit must be an integer in 1..${maxListLimit}`);
  }
  return { prefix, limit };
}
