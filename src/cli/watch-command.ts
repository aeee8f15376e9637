// `raftkv watch KEY | --prefix P [--from-index N]`: one line per committed change, as it happens,
// until interrupted — resuming on the next endpoint when a node fails (the API client's watch,
// src/client/watch.ts, does the resuming: every change once, in log order).

import {
  type ClientTls,
  RaftkvApiError,
  RaftkvClient,
  WatchCompactedError,
  type WatchEvent,
  type WatchResume,
  type WatchTarget,
} from '../client/index.js';
import type { Endpoint } from './addresses.js';
import {
  booleanOption,
  type Env,
  type FlagDef,
  noMorePositionals,
  parseArgs,
  parseDurationMs,
  parseInteger,
  sourceOf,
  stringOption,
  UsageError,
} from './args.js';
import { parseCredentials } from './connection-options.js';
import { describeError, type Io } from './io.js';
import { clientFlags, defaultClientTimeoutMs, endpointsOption, exitCodes } from './kv-commands.js';

export const watchFlags: readonly FlagDef[] = [
  {
    name: 'prefix',
    value: 'P',
    help: 'watch every key that starts with P instead of one KEY ("" for all keys)',
  },
  {
    name: 'from-index',
    value: 'N',
    default: 'the next index applied',
    help: 'start at log index N: the changes from N on, while the nodes still keep them',
  },
  ...clientFlags.map((f) =>
    f.name === 'json'
      ? { ...f, help: 'print each change as one line of JSON (type, key, value, prevValue, index)' }
      : f,
  ),
];

export interface WatchInvocation {
  readonly target: WatchTarget;
  readonly fromIndex?: number;
  readonly endpoints: readonly Endpoint[];
  readonly timeoutMs: number;
  readonly json: boolean;
  readonly token?: string;
  readonly tls?: ClientTls;
}

/** Parses `raftkv watch ...`; throws UsageError. */
export function parseWatchCommand(argv: readonly string[], env: Env): WatchInvocation {
  const args = parseArgs(argv, watchFlags);
  const key = args.positionals[0];
  const prefix = stringOption(args, 'prefix');
  if (key !== undefined && prefix !== undefined) throw new UsageError('give KEY or --prefix P, not both');
  if (key === undefined && prefix === undefined) throw new UsageError('missing KEY (or --prefix P)');
  if (key === '') throw new UsageError('KEY must not be empty (--prefix "" watches every key)');
  noMorePositionals(args, key === undefined ? 0 : 1);
  const rawFrom = stringOption(args, 'from-index');
  const timeoutRaw = stringOption(args, 'timeout', env, 'RAFTKV_TIMEOUT');
  return {
    target: key !== undefined ? { key } : { prefix: prefix ?? '' },
    ...(rawFrom !== undefined && { fromIndex: parseInteger(rawFrom, '--from-index', 0) }),
    endpoints: endpointsOption(args, env),
    timeoutMs:
      timeoutRaw === undefined
        ? defaultClientTimeoutMs
        : parseDurationMs(timeoutRaw, sourceOf(args, 'timeout', 'RAFTKV_TIMEOUT')),
    json: booleanOption(args, 'json'),
    ...parseCredentials(args, env),
  };
}

/** One change as the command prints it. */
export function formatChange(e: WatchEvent, json: boolean): string {
  if (json) {
    const { type, key, value, prevValue, index } = e;
    return `${JSON.stringify({ type, key, value, prevValue, index })}\n`;
  }
  return e.type === 'put'
    ? `put ${e.key} ${e.value ?? ''} (index ${e.index})\n`
    : `delete ${e.key} (index ${e.index})\n`;
}

/** The stream of changes: the API client's, over the endpoints in order. */
export type WatchSource = (
  inv: WatchInvocation,
  signal: AbortSignal,
  onResume: (r: WatchResume) => void,
) => AsyncIterable<WatchEvent>;

export const clientWatch: WatchSource = (inv, signal, onResume) => {
  const credentials = {
    ...(inv.token !== undefined && { token: inv.token }),
    ...(inv.tls !== undefined && { tls: inv.tls }),
  };
  // A fresh connection per stream: a node restarted under the watch leaves no stale socket.
  const [first, ...others] = inv.endpoints.map(
    (e) => new RaftkvClient(e.url, { keepAlive: false, timeoutMs: inv.timeoutMs, ...credentials }),
  );
  if (first === undefined) throw new UsageError('no endpoint to watch');
  return first.watch(inv.target, {
    ...(inv.fromIndex !== undefined && { fromIndex: inv.fromIndex }),
    failover: others,
    signal,
    onResume,
  });
};

export interface WatchDeps {
  /** Calls `handler` on SIGINT/SIGTERM: the watch stops and the command exits 0. */
  readonly onSignal: (handler: (signal: string) => void) => void;
  readonly source?: WatchSource;
}

/** Prints the changes until interrupted (exit 0), or until the watch cannot go on (exit 1). */
export async function runWatch(inv: WatchInvocation, io: Io, deps: WatchDeps): Promise<number> {
  const stop = new AbortController();
  deps.onSignal(() => stop.abort(new Error('interrupted')));
  const labels = new Map(inv.endpoints.map((e) => [e.url, e.label]));
  const label = (url: string): string => labels.get(url) ?? url;
  const onResume = (r: WatchResume): void => {
    const after = r.after === null ? '' : ` after index ${r.after}`;
    io.err(`raftkv: watch: ${label(r.from)}: ${r.reason}; resuming${after} on ${label(r.to)}\n`);
  };
  try {
    for await (const e of (deps.source ?? clientWatch)(inv, stop.signal, onResume))
      io.out(formatChange(e, inv.json));
    return exitCodes.ok;
  } catch (e) {
    if (stop.signal.aborted) return exitCodes.ok;
    if (e instanceof WatchCompactedError) {
      io.err(
        `raftkv: watch: the changes asked for are no longer kept (the oldest kept is at index ${e.oldestIndex}): ` +
          `read the keys again (raftkv get/list --json gives the index) and watch with --from-index INDEX+1\n`,
      );
      return exitCodes.failed;
    }
    if (e instanceof RaftkvApiError) {
      const body = (typeof e.body === 'object' && e.body !== null ? e.body : {}) as Record<string, unknown>;
      const error = typeof body.error === 'string' ? body.error : `HTTP ${e.status}`;
      const code = e.code === null ? '' : ` (${e.code})`;
      io.err(`raftkv: ${error}${code}\n`);
      return exitCodes.failed;
    }
    io.err(`raftkv: watch: ${describeError(e)}\n`);
    return exitCodes.failed;
  }
}
