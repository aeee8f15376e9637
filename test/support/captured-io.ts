// A command's Io (src/cli/io.ts) captured in memory for a test: everything written, and a wait
// until the output holds given strings (a supervisor's output arrives from its children in time).

import type { Io } from '../../src/cli/io.js';

export interface CapturedIo {
  /** stdout and stderr both land here, in order. */
  readonly io: Io;
  text(): string;
  /** Resolves once the output contains every string; rejects naming them after `timeoutMs`. */
  until(...parts: string[]): Promise<void>;
}

export function capturedIo(timeoutMs = 20_000): CapturedIo {
  let all = '';
  const waiters: { parts: string[]; resolve: () => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      if (w.parts.every((p) => all.includes(p))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const write = (t: string): void => {
    all += t;
    check();
  };
  return {
    io: { out: write, err: write },
    text: () => all,
    until: (...parts) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          const wanted = parts.map((p) => JSON.stringify(p)).join(', ');
          reject(
            new Error(`timed out after ${timeoutMs} ms waiting for output with ${wanted}; got:\n${all}`),
          );
        }, timeoutMs);
        const waiter = {
          parts,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        waiters.push(waiter);
        check();
      }),
  };
}
