// Histories on disk, so that a run's history can be kept and re-checked later (or by hand).
//
// The format is JSON lines: an optional header line {"format":"raftkv-history","version":1},
// then one op per line, exactly the KvOp shape, e.g.
//   {"id":7,"process":2,"key":"x","kind":"cas","prevValue":"1","value":"2","invokedAt":100,
//    "completedAt":130,"outcome":{"type":"fail","precondition":true}}
// Blank lines are ignored, unknown fields are ignored (so the runner may add its own), and
// everything else is checked: a malformed line is an error naming its line number.

import { readFile, writeFile } from 'node:fs/promises';
import type { DeleteOutcome, FailOutcome, GetOutcome, InfoOutcome, KvOp, WriteOutcome } from './history.js';

export const historyFormat = 'raftkv-history';
export const historyFormatVersion = 1;

export class HistoryFormatError extends Error {
  override readonly name = 'HistoryFormatError';
}

/** Serializes a history: the header, then one line per op in the given order. */
export function formatHistory(history: readonly KvOp[]): string {
  const lines = [JSON.stringify({ format: historyFormat, version: historyFormatVersion })];
  for (const op of history) lines.push(JSON.stringify(op, fieldOrder));
  return lines.join('\n') + '\n';
}

// Fixed key order for readable, diffable files (JSON.stringify keeps only the listed keys).
const fieldOrder = [
  'id',
  'process',
  'key',
  'kind',
  'prevValue',
  'value',
  'invokedAt',
  'completedAt',
  'outcome',
  'type',
  'existed',
  'precondition',
  'error',
];

export function parseHistory(text: string): KvOp[] {
  const ops: KvOp[] = [];
  const lines = text.split('\n');
  let sawContent = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const lineNo = i + 1;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (e) {
      throw new HistoryFormatError(`line ${lineNo}: not JSON (${(e as Error).message})`);
    }
    if (!sawContent && isRecord(json) && 'format' in json) {
      if (json.format !== historyFormat || json.version !== historyFormatVersion) {
        throw new HistoryFormatError(`line ${lineNo}: unsupported header ${line}`);
      }
      sawContent = true;
      continue;
    }
    sawContent = true;
    try {
      ops.push(decodeOp(json));
    } catch (e) {
      if (e instanceof DecodeError) throw new HistoryFormatError(`line ${lineNo}: ${e.message}`);
      throw e;
    }
  }
  return ops;
}

export async function readHistoryFile(path: string): Promise<KvOp[]> {
  return parseHistory(await readFile(path, 'utf8'));
}

export async function writeHistoryFile(path: string, history: readonly KvOp[]): Promise<void> {
  await writeFile(path, formatHistory(history), 'utf8');
}

class DecodeError extends Error {}

type Json = Record<string, unknown>;

function isRecord(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function field<T>(o: Json, name: string, test: (v: unknown) => v is T, what: string): T {
  const v = o[name];
  if (!test(v)) throw new DecodeError(`"${name}" must be ${what}`);
  return v;
}

function optional<T>(o: Json, name: string, test: (v: unknown) => v is T, what: string): T | undefined {
  return o[name] === undefined ? undefined : field(o, name, test, what);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isStringOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';
const isNumberOrNull = (v: unknown): v is number | null => v === null || isNumber(v);
const isProcess = (v: unknown): v is number | string => isString(v) || isNumber(v);

function decodeOp(json: unknown): KvOp {
  if (!isRecord(json)) throw new DecodeError('an op must be a JSON object');
  const base = {
    id: field(json, 'id', isNumber, 'a number'),
    process: field(json, 'process', isProcess, 'a number or string'),
    key: field(json, 'key', isString, 'a string'),
    invokedAt: field(json, 'invokedAt', isNumber, 'a number'),
    completedAt: field(json, 'completedAt', isNumberOrNull, 'a number or null'),
  };
  const o = field(json, 'outcome', isRecord, 'an object');
  const kind = json.kind;
  switch (kind) {
    case 'get': {
      const outcome: GetOutcome =
        o.type === 'ok'
          ? { type: 'ok', value: field(o, 'value', isStringOrNull, 'a string or null') }
          : notOk(o);
      return { ...base, kind, outcome };
    }
    case 'put':
      return { ...base, kind, value: field(json, 'value', isString, 'a string'), outcome: plain(o) };
    case 'cas':
      return {
        ...base,
        kind,
        prevValue: field(json, 'prevValue', isStringOrNull, 'a string or null'),
        value: field(json, 'value', isString, 'a string'),
        outcome: plain(o),
      };
    case 'delete': {
      let outcome: DeleteOutcome;
      if (o.type === 'ok') {
        const existed = optional(o, 'existed', isBoolean, 'a boolean');
        outcome = existed === undefined ? { type: 'ok' } : { type: 'ok', existed };
      } else {
        outcome = notOk(o);
      }
      return { ...base, kind, outcome };
    }
    default:
      throw new DecodeError('"kind" must be one of get, put, cas, delete');
  }
}

function plain(o: Json): WriteOutcome {
  return o.type === 'ok' ? { type: 'ok' } : notOk(o);
}

function notOk(o: Json): FailOutcome | InfoOutcome {
  const error = optional(o, 'error', isString, 'a string');
  if (o.type === 'info') return error === undefined ? { type: 'info' } : { type: 'info', error };
  if (o.type !== 'fail') throw new DecodeError('"outcome.type" must be one of ok, fail, info');
  const precondition = optional(o, 'precondition', isBoolean, 'a boolean');
  return {
    type: 'fail',
    ...(precondition === undefined ? {} : { precondition }),
    ...(error === undefined ? {} : { error }),
  };
}
