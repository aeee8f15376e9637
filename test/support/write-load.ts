// A write load for the tests that check what a cluster kept: writers of unique keys, each write
// sent with an Idempotency-Key, and the acknowledged ones remembered with the index they were
// applied at — exactly what the state must hold afterwards (or at that index).

import type { RaftkvClient } from '../../src/client/index.js';
import { pause, waitFor } from './wait.js';

export interface WriteLoadOptions {
  /** Writer w's n-th key is `${prefix}${w}/${n}`. */
  readonly prefix: string;
  /**
   * The client for try `attempt` of writer `writer`'s write `n`; undefined when no node can take
   * it now (all stopped or restarting): the writer waits and asks again.
   */
  readonly client: (writer: number, n: number, attempt: number) => RaftkvClient | undefined;
  /**
   * 'until-acknowledged': a write is retried with its Idempotency-Key until it is acknowledged (a
   * retry gets the first answer, so the index recorded is the one it was applied at), and the load
   * stops only when every write begun is; 400 failed tries fail the load. 'once': a write refused
   * or of unknown outcome is given up — not acknowledged, so not checked.
   */
  readonly tries: 'until-acknowledged' | 'once';
  /** Per request. */
  readonly timeoutMs: number;
  /** The wait after a failed try. */
  readonly failurePauseMs: number;
}

export class WriteLoad {
  /** key → the value written and the index it was applied at. */
  readonly acked = new Map<string, { readonly value: string; readonly index: number }>();
  /** Tries that failed (a leader change, a node killed or removed under the client). */
  failures = 0;
  private stopping = false;
  private running: Promise<void>[] = [];

  constructor(private readonly o: WriteLoadOptions) {}

  start(writers = 1): void {
    for (let w = 0; w < writers; w++) this.running.push(this.writer(w));
  }

  /** Stops the writers once every write begun is acknowledged or given up. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
  }

  /** The highest index acknowledged so far. */
  get highestIndex(): number {
    let max = 0;
    for (const { index } of this.acked.values()) max = Math.max(max, index);
    return max;
  }

  /** Waits until `n` more writes than now have been acknowledged. */
  async waitForMore(n: number, timeoutMs = 20_000): Promise<void> {
    const target = this.acked.size + n;
    await waitFor(`${target} acknowledged writes`, () => this.acked.size >= target, {
      timeoutMs,
      intervalMs: 2,
    });
  }

  private async writer(w: number): Promise<void> {
    const { prefix, tries, timeoutMs, failurePauseMs } = this.o;
    for (let n = 0; !this.stopping; n++) {
      const key = `${prefix}${w}/${n}`;
      const value = `value of ${key}`;
      const idempotencyKey = `write-load-${key}`;
      for (let attempt = 0; ; ) {
        const client = this.o.client(w, n, attempt);
        if (client === undefined) {
          // No node runs (the test failed and cleaned up, or all are restarting): wait, never
          // spin. A write not sent yet needs no answer once the load is stopping.
          if (this.stopping) return;
          await pause(50);
          continue;
        }
        try {
          const r = await client.put(key, value, { idempotencyKey, timeoutMs });
          this.acked.set(key, { value, index: r.index });
          break;
        } catch {
          // A refused connection to a node that just exited fails at once (its error comes on the
          // next tick): the pause keeps this loop from starving the timers and I/O that notice it.
          this.failures++;
          if (tries === 'until-acknowledged' && attempt > 400) {
            throw new Error(`write of ${key} not acknowledged after ${attempt} tries`);
          }
          await pause(failurePauseMs);
          if (tries === 'once') break;
          attempt++;
        }
      }
    }
  }
}
