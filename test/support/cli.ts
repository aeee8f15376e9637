// The built CLI, as a test runs it: one-shot commands (raftkv put/get/status ...) to completion.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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
