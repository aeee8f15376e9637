// Running the system tools the runner needs (ip, iptables). Synchronous on purpose: set-up is a
// handful of short commands, and teardown must also work from an exit handler, where nothing
// asynchronous runs.

import { spawnSync } from 'node:child_process';

export class CommandError extends Error {
  override readonly name = 'CommandError';
}

export interface RunResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cmd args...`; never throws (a missing binary is status 127). */
export function tryRun(cmd: string, args: readonly string[], timeoutMs = 10_000): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return { status: 127, stdout: '', stderr: r.error.message };
  return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Runs `cmd args...` and throws a CommandError naming the command if it fails. */
export function run(cmd: string, args: readonly string[], timeoutMs = 10_000): string {
  const r = tryRun(cmd, args, timeoutMs);
  if (r.status !== 0) {
    throw new CommandError(`${cmd} ${args.join(' ')} failed (status ${r.status}): ${r.stderr.trim()}`);
  }
  return r.stdout;
}
