// The client commands' output: each answer (or failure) becomes stdout, stderr and an exit code
// (pure, unit-tested); runClientCommand sends the request(s) and renders the result.

import type { Endpoint } from './addresses.js';
import {
  classifyFailure,
  type HttpAnswer,
  type HttpRequest,
  isRecord,
  RequestFailed,
  requestOnce,
  requestWithFailover,
} from './client.js';
import { formatStatusTable, formatTable, parseDebug, type StatusRow } from './debug-info.js';
import { describeError } from './io.js';
import { type ClientInvocation, exitCodes, httpRequestOf, type LeaseAction } from './kv-commands.js';

export interface Output {
  readonly out: string;
  readonly err: string;
  readonly code: number;
}

const quote = (s: string): string => JSON.stringify(s);

function failure(message: string, code: number = exitCodes.failed): Output {
  return { out: '', err: `raftkv: ${message}\n`, code };
}

function unknownOutcome(message: string, inv: ClientInvocation): Output {
  if (inv.command.kind === 'lease')
    return failure(`${message}; ${leaseUnknown(inv.command.lease)}`, exitCodes.unknown);
  return failure(
    `${message}; the write's outcome is unknown (it may still be applied): ` +
      `retry with --idempotency-key ${inv.idempotencyKey ?? '<key>'} to apply it at most once`,
    exitCodes.unknown,
  );
}

function isWrite(inv: ClientInvocation): boolean {
  const c = inv.command;
  return (
    c.kind === 'put' ||
    c.kind === 'del' ||
    c.kind === 'txn' ||
    (c.kind === 'lease' && c.lease.action !== 'show')
  );
}

/** What a lease command whose outcome is unknown may have done, and what to do about it. */
function leaseUnknown(l: LeaseAction): string {
  switch (l.action) {
    case 'grant':
      return 'a lease may have been granted: nobody renews it, so it expires after its TTL';
    case 'keepalive':
      return `lease ${l.id} may have been renewed: renewing it again is safe`;
    default:
      return `lease ${l.id} may have been revoked: revoking it again is safe (404 if it was)`;
  }
}

/** The plain output of a lease command's 200. */
function leaseOutput(l: LeaseAction, body: Record<string, unknown>): string {
  const keys = Array.isArray(body.keys) ? body.keys.map(String) : [];
  switch (l.action) {
    case 'grant':
      return `lease ${String(body.id)} granted with TTL ${String(body.ttl)}s\n`;
    case 'keepalive':
      return `lease ${String(body.id)} kept alive with TTL ${String(body.ttl)}s\n`;
    case 'revoke':
      return `lease ${String(body.id)} revoked; ${keys.length} keys deleted\n${keys.map((k) => `${k}\n`).join('')}`;
    case 'show':
      return (
        `lease ${String(body.id)}: TTL ${String(body.ttl)}s, ${String(body.remaining)}s remaining, ${keys.length} keys\n` +
        keys.map((k) => `${k}\n`).join('')
      );
  }
}

/** Output and exit code for a request that no endpoint answered. */
export function renderFailure(e: RequestFailed, inv: ClientInvocation): Output {
  return isWrite(inv) && e.mayHaveArrived ? unknownOutcome(e.message, inv) : failure(e.message);
}

/** Output and exit code for an answer. */
export function renderAnswer(
  inv: ClientInvocation,
  answer: HttpAnswer,
  mayHaveArrivedBefore = false,
): Output {
  const c = inv.command;
  const body = isRecord(answer.body) ? answer.body : {};
  const json = (): string => `${JSON.stringify(answer.body)}\n`;
  if (answer.status === 200) {
    if (inv.json) return { out: json(), err: '', code: exitCodes.ok };
    switch (c.kind) {
      case 'put':
        return { out: 'OK\n', err: '', code: exitCodes.ok };
      case 'get':
        return { out: `${String(body.value)}\n`, err: '', code: exitCodes.ok };
      case 'del':
        return {
          out: body.deleted === true ? `deleted ${c.key}\n` : `${c.key} was absent; nothing deleted\n`,
          err: '',
          code: exitCodes.ok,
        };
      case 'txn':
        return { out: formatTxn(body), err: '', code: exitCodes.ok };
      case 'list': {
        const items = Array.isArray(body.items) ? body.items : [];
        const lines = items.filter(isRecord).map((i) => `${String(i.key)}\t${String(i.value)}\n`);
        const more =
          body.more === true
            ? `raftkv: more keys match; showing the first ${items.length} (see --limit)\n`
            : '';
        return { out: lines.join(''), err: more, code: exitCodes.ok };
      }
      case 'status':
        return { out: json(), err: '', code: exitCodes.ok };
      case 'member':
        return { out: formatMembers(body), err: '', code: exitCodes.ok };
      case 'leader':
        return {
          out: `leader is ${String(body.leaderId)} (term ${String(body.term)})\n`,
          err: '',
          code: exitCodes.ok,
        };
      case 'lease':
        return { out: leaseOutput(c.lease, body), err: '', code: exitCodes.ok };
    }
  }
  const error = typeof body.error === 'string' ? body.error : undefined;
  if (c.kind === 'get' && answer.status === 404 && error === undefined) {
    return failure(`key not found: ${c.key}`);
  }
  if (c.kind === 'put' && answer.status === 409) {
    const current =
      typeof body.value === 'string' ? `its current value is ${quote(body.value)}` : 'it is absent';
    return failure(`precondition failed for key ${quote(c.key)}: ${current}; nothing written`);
  }
  if (c.kind === 'lease' && c.lease.action !== 'grant' && body.code === 'lease_not_found') {
    return failure(`lease ${c.lease.id} not found: it expired, was revoked, or was never granted`);
  }
  const code = typeof body.code === 'string' ? ` (${body.code})` : '';
  const message = `${error ?? `HTTP ${answer.status}`}${code} [${answer.endpoint.label}]`;
  // Without a `definite` field (not a raftkv error body), a 5xx may have happened.
  const definite = typeof body.definite === 'boolean' ? body.definite : answer.status < 500;
  if (isWrite(inv) && (!definite || mayHaveArrivedBefore)) {
    return unknownOutcome(message, inv);
  }
  return failure(message);
}

/**
 * `succeeded` or `failed` (which branch ran), then one line per op: `put KEY (version N)`,
 * `delete KEY` / `delete KEY (absent)`, `get KEY VALUE` / `get KEY (absent)`.
 */
export function formatTxn(body: Record<string, unknown>): string {
  const lines = [
    `${body.succeeded === true ? 'succeeded' : 'failed: the failure ops ran'} (index ${String(body.index)})`,
  ];
  for (const r of Array.isArray(body.results) ? body.results.filter(isRecord) : []) {
    const [op, v] = Object.entries(r)[0] ?? [];
    if (!isRecord(v)) continue;
    const key = String(v.key);
    if (op === 'put') lines.push(`put ${key} (version ${String(v.version)})`);
    else if (op === 'delete') lines.push(`delete ${key}${v.deleted === true ? '' : ' (absent)'}`);
    else if (op === 'get')
      lines.push(v.value === null ? `get ${key} (absent)` : `get ${key} ${String(v.value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `ID  ROLE  ADDRESS` lines, the leader marked, and the configuration's index. */
export function formatMembers(body: Record<string, unknown>): string {
  const members = Array.isArray(body.members) ? body.members.filter(isRecord) : [];
  const rows = members.map((m) => [
    String(m.id) + (m.id === body.leaderId ? ' *' : ''),
    String(m.role),
    String(m.address),
  ]);
  return `${formatTable(['ID', 'ROLE', 'ADDRESS'], rows)}(* leader; configuration at index ${String(body.index)})\n`;
}

export interface KvDeps {
  readonly send: (endpoint: Endpoint, req: HttpRequest) => Promise<HttpAnswer>;
}

export const realKvDeps: KvDeps = { send: requestOnce };

export async function runClientCommand(inv: ClientInvocation, deps: KvDeps = realKvDeps): Promise<Output> {
  if (inv.command.kind === 'status') return runStatus(inv, deps);
  try {
    const { answer, mayHaveArrivedBefore } = await requestWithFailover(
      inv.endpoints,
      httpRequestOf(inv),
      deps.send,
    );
    return renderAnswer(inv, answer, mayHaveArrivedBefore);
  } catch (e) {
    if (e instanceof RequestFailed) return renderFailure(e, inv);
    return failure(describeError(e));
  }
}

/** Asks every endpoint's /debug at once; exit 1 if any is unreachable. */
async function runStatus(inv: ClientInvocation, deps: KvDeps): Promise<Output> {
  const req = httpRequestOf(inv);
  const rows = await Promise.all(
    inv.endpoints.map(async (endpoint): Promise<StatusRow & { body?: unknown }> => {
      try {
        const answer = await deps.send(endpoint, req);
        const info = parseDebug(answer.body);
        if (answer.status === 200 && info) return { endpoint: endpoint.label, info, body: answer.body };
        return { endpoint: endpoint.label, error: `HTTP ${answer.status} without node status` };
      } catch (e) {
        return { endpoint: endpoint.label, error: classifyFailure(e, inv.timeoutMs).reason };
      }
    }),
  );
  const down = rows.filter((r) => !r.info).length;
  const out = inv.json
    ? `${JSON.stringify(rows.map((r) => ({ endpoint: r.endpoint, ...(r.info ? { status: r.body } : { error: r.error }) })))}\n`
    : formatStatusTable(rows);
  const err = down > 0 ? `raftkv: ${down} of ${rows.length} endpoints unreachable\n` : '';
  return { out, err, code: down > 0 ? exitCodes.failed : exitCodes.ok };
}
