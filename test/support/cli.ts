// The built CLI, as a test runs it: one-shot commands (raftkv put/get/status ...) to completion,
// and long-running ones (raftkv cluster ...) as child processes.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { within } from './wait.js';

/** The built CLI entry (this file is compiled to dist/test/support/, the CLI to dist/src/cli/). */
export const CLI_PATH = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node dist/src/cli/main.js ...args` to completion (killed after `timeoutMs`). */
export function runCli(args: readonly string[], timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI_PATH, ...args],
      { timeout: timeoutMs, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') {
          reject(new Error(`raftkv ${args.join(' ')}: ${err.message}\n${stderr}`));
          return;
        }
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
      },
    );
  });
}

/**
 * A long-running CLI command (`raftkv cluster`, `raftkv cluster add`) as a child process: its
 * output kept in memory, signalled by its own PID. The supervisors run their nodes in process
 * groups of their own and stop them on SIGTERM; a supervisor killed outright closes the nodes'
 * stdin, and they stop by themselves.
 */
export class CliProcess {
  private out = '';
  private readonly child: ChildProcess;
  readonly exited: Promise<CliExit>;
  private exit: CliExit | null = null;

  constructor(args: readonly string[], options: { readonly cwd?: string } = {}) {
    this.child = spawn(process.execPath, [CLI_PATH, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.cwd !== undefined && { cwd: options.cwd }),
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        this.out += chunk;
      });
    }
    // If the test process itself exits first, take the command with it (kill is synchronous).
    const onExit = (): void => this.signal('SIGKILL');
    process.once('exit', onExit);
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        process.removeListener('exit', onExit);
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string {
    return this.out;
  }

  /** Sends `sig` to this process's own PID, if it still runs. */
  signal(sig: NodeJS.Signals): void {
    if (this.exit !== null || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }

  /** SIGTERM, then the exit; SIGKILL if it has not exited within `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<CliExit> {
    this.signal('SIGTERM');
    try {
      return await within('the command to exit after SIGTERM', this.exited, { timeoutMs });
    } catch (e) {
      this.signal('SIGKILL');
      await this.exited;
      throw e;
    }
  }
}

export interface CliExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}
