// `raftkv lock NAME [--ttl S] [-- COMMAND [ARGS...]]`: takes the lock (the API client's
// acquireLock: etcd's recipe on a lease, docs/locks.md), then runs COMMAND while holding it, with
// the fencing token in its environment, and releases the lock when COMMAND exits. If the lock is
// lost meanwhile (its lease ended, or renewals went unacknowledged for a TTL), COMMAND is stopped
// (SIGTERM) and the exit code is 1: whatever it does after that, it no longer holds the lock —
// which is why the protected resource must check the token. Without COMMAND it prints the key and
// the token and holds the lock until interrupted.

import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import {
  type ClientTls,
  type HeldLock,
  LockLostError,
  RaftkvApiError,
  RaftkvClient,
} from '../client/index.js';
import type { Endpoint } from './addresses.js';
import {
  type Env,
  type FlagDef,
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

export const lockFlags: readonly FlagDef[] = [
  {
    name: 'ttl',
    value: 'S',
    default: '10',
    help: "the lock's lease TTL in seconds: a holder that dies or is cut off loses the lock after about this long",
  },
  ...clientFlags.filter((f) => f.name !== 'json'),
];

export interface LockInvocation {
  readonly name: string;
  readonly ttl: number;
  /** The command to run while holding the lock; empty: hold until interrupted. */
  readonly command: readonly string[];
  readonly endpoints: readonly Endpoint[];
  readonly timeoutMs: number;
  readonly token?: string;
  readonly tls?: ClientTls;
}

/** Parses `raftkv lock NAME [--ttl S] [-- COMMAND ...]`; throws UsageError. */
export function parseLockCommand(argv: readonly string[], env: Env): LockInvocation {
  const args = parseArgs(argv, lockFlags);
  const [name, ...command] = args.positionals;
  if (name === undefined) throw new UsageError('missing NAME');
  if (name === '') throw new UsageError('NAME must not be empty');
  const rawTtl = stringOption(args, 'ttl');
  const timeoutRaw = stringOption(args, 'timeout', env, 'RAFTKV_TIMEOUT');
  return {
    name,
    ttl: rawTtl === undefined ? 10 : parseInteger(rawTtl, '--ttl', 1, 9_000_000_000),
    command,
    endpoints: endpointsOption(args, env),
    timeoutMs:
      timeoutRaw === undefined
        ? defaultClientTimeoutMs
        : parseDurationMs(timeoutRaw, sourceOf(args, 'timeout', 'RAFTKV_TIMEOUT')),
    ...parseCredentials(args, env),
  };
}

export interface LockDeps {
  /** Calls `handler` on SIGINT/SIGTERM. */
  readonly onSignal: (handler: (signal: string) => void) => void;
}

/** The command's environment while it holds the lock. */
export function lockEnvironment(lock: HeldLock): Record<string, string> {
  return {
    RAFTKV_LOCK_NAME: lock.name,
    RAFTKV_LOCK_KEY: lock.key,
    RAFTKV_LOCK_TOKEN: String(lock.token),
  };
}

export async function runLock(inv: LockInvocation, io: Io, deps: LockDeps): Promise<number> {
  const stop = new AbortController();
  let child: ReturnType<typeof spawn> | null = null;
  deps.onSignal((signal) => {
    stop.abort(new Error(`interrupted by ${signal}`));
    child?.kill('SIGTERM');
  });
  const credentials = {
    ...(inv.token !== undefined && { token: inv.token }),
    ...(inv.tls !== undefined && { tls: inv.tls }),
  };
  const nodes = inv.endpoints.map(
    (e) => new RaftkvClient(e.url, { timeoutMs: inv.timeoutMs, ...credentials }),
  );
  let lock: HeldLock;
  try {
    lock = await nodes[0]!.lock(inv.name, {
      ttl: inv.ttl,
      failover: nodes.slice(1),
      signal: stop.signal,
      owner: `${hostname()} pid ${process.pid}`,
    });
  } catch (e) {
    if (stop.signal.aborted) return exitCodes.failed;
    io.err(`raftkv: lock ${inv.name}: ${describeLockError(e)}\n`);
    return exitCodes.failed;
  }
  io.err(`raftkv: lock ${inv.name} held: key ${lock.key}, fencing token ${lock.token}\n`);
  let lostReason: string | null = null;
  try {
    if (inv.command.length === 0) {
      io.out(`${lock.key}\n${lock.token}\n`);
      await new Promise<void>((resolve) => {
        const done = () => resolve();
        stop.signal.addEventListener('abort', done, { once: true });
        lock.lost.addEventListener('abort', () => {
          lostReason = String(lock.lost.reason);
          done();
        });
      });
      if (lostReason !== null) {
        io.err(`raftkv: lock ${inv.name} lost: ${lostReason}\n`);
        return exitCodes.failed;
      }
      return exitCodes.ok;
    }
    const [file, ...args] = inv.command as [string, ...string[]];
    const running = spawn(file, args, {
      stdio: 'inherit',
      env: { ...process.env, ...lockEnvironment(lock) },
    });
    child = running;
    const onLost = () => {
      lostReason = String(lock.lost.reason);
      io.err(`raftkv: lock ${inv.name} lost: ${lostReason}; stopping ${file}\n`);
      running.kill('SIGTERM');
    };
    lock.lost.addEventListener('abort', onLost, { once: true });
    const code = await new Promise<number>((resolve) => {
      running.on('error', (e) => {
        io.err(`raftkv: lock ${inv.name}: cannot run ${file}: ${describeError(e)}\n`);
        resolve(127);
      });
      running.on('exit', (status, signal) => resolve(status ?? 128 + signalNumber(signal)));
    });
    lock.lost.removeEventListener('abort', onLost);
    return lostReason !== null ? exitCodes.failed : code;
  } finally {
    await lock.release();
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return signal === null ? 0 : (numbers[signal] ?? 0);
}

function describeLockError(e: unknown): string {
  if (e instanceof LockLostError) return e.message;
  if (e instanceof RaftkvApiError) {
    const body = (typeof e.body === 'object' && e.body !== null ? e.body : {}) as Record<string, unknown>;
    return `${typeof body.error === 'string' ? body.error : `HTTP ${e.status}`}${e.code === null ? '' : ` (${e.code})`}`;
  }
  return describeError(e);
}
