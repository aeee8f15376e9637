// Plain-text renderings of ops and check results, for the runner's report and test failures.
// A failure is shown as the few ops around where the search got stuck, with their times, so a
// reader can redo the reasoning by hand.

import type { KvOp } from './history.js';
import type { KeyFailure, KeyResult, KvCheckResult } from './kv-check.js';
import { showValue } from './register-model.js';

/** One op and its outcome, e.g. `cas x "1" => "2" -> fail (precondition)` or `get x -> absent`. */
export function showOp(op: KvOp): string {
  const key = JSON.stringify(op.key);
  let call: string;
  switch (op.kind) {
    case 'get':
      call = `get ${key}`;
      break;
    case 'put':
      call = `put ${key} ${showValue(op.value)}`;
      break;
    case 'cas':
      call = `cas ${key} ${showValue(op.prevValue)} => ${showValue(op.value)}`;
      break;
    case 'delete':
      call = `delete ${key}`;
      break;
  }
  const o = op.outcome;
  switch (o.type) {
    case 'ok':
      if (op.kind === 'get' && op.outcome.type === 'ok') return `${call} -> ${showValue(op.outcome.value)}`;
      if (op.kind === 'delete' && op.outcome.type === 'ok' && op.outcome.existed !== undefined) {
        return `${call} -> ok (${op.outcome.existed ? 'existed' : 'was absent'})`;
      }
      return `${call} -> ok`;
    case 'fail':
      return `${call} -> fail (${o.precondition === true ? 'precondition' : (o.error ?? 'rejected')})`;
    case 'info':
      return `${call} -> info (${o.error ?? 'indeterminate'})`;
  }
}

function showTime(op: KvOp, end: boolean): string {
  if (!end) return String(op.invokedAt);
  if (op.outcome.type === 'info') return op.completedAt === null ? 'open' : `open (${op.completedAt})`;
  return String(op.completedAt);
}

/** A table of ops with their process and interval, one line each, with an optional note per op. */
export function renderOps(ops: readonly KvOp[], note: (op: KvOp) => string = () => ''): string {
  const rows = ops.map((op) => [
    String(op.id),
    String(op.process),
    showTime(op, false),
    showTime(op, true),
    showOp(op),
    note(op),
  ]);
  const header = ['id', 'process', 'invoked', 'completed', 'operation', ''];
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const rightAligned = new Set([0, 2, 3]);
  return all
    .map((r) =>
      r
        .map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function renderKeyFailure(f: KeyFailure): string {
  const inPrefix = new Set(f.prefix);
  const pending = new Set(f.pending);
  const note = (op: KvOp): string => {
    if (op === f.stuck) return '<- cannot be linearized';
    if (op === f.lastChange) return `prefix #${f.prefix.indexOf(op) + 1}: set the value`;
    if (inPrefix.has(op)) return `prefix #${f.prefix.indexOf(op) + 1}`;
    if (pending.has(op)) return 'pending';
    return '';
  };
  const others =
    f.pending.length === 0
      ? 'no other op was pending'
      : `placing any of the ${f.pending.length} other pending ops first does not help`;
  const lines = [
    `key ${JSON.stringify(f.key)}: not linearizable.`,
    `The longest linearizable prefix found has ${f.prefix.length} ops and leaves the value ` +
      `${showValue(f.valueAfterPrefix)}; after it op ${f.stuck.id} (${showOp(f.stuck)}) cannot take effect, ` +
      `and ${others}.`,
    indent(renderOps(f.window, note)),
  ];
  return lines.join('\n');
}

function showKey(r: KeyResult): string {
  const counts = `${r.ops} ops, ${r.dropped} dropped, ${r.steps} steps`;
  const why = r.unknownReason ? `, ${r.unknownReason} reached` : '';
  return `key ${JSON.stringify(r.key)}: ${r.verdict} (${counts}${why})`;
}

/** The whole result: the verdict, one line per key, and each failing key's window. */
export function renderCheckResult(result: KvCheckResult): string {
  const keys = result.perKey.length === 1 ? '1 key' : `${result.perKey.length} keys`;
  const lines = [`${result.verdict} (${keys}, ${result.steps} steps)`];
  for (const r of result.perKey) lines.push(indent(showKey(r)));
  for (const r of result.perKey) if (r.failure) lines.push('', renderKeyFailure(r.failure));
  return lines.join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => '  ' + l)
    .join('\n');
}
