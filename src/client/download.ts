// A download (exchange.ts's openStreaming, over undici): the answer's body handed chunk by chunk to the caller's sink, which
// sets the pace (the next chunk is read once the sink's promise resolves) — for an answer too large
// to hold, a backup. Bounded by an idle timeout rather than a total one: a large backup may take
// minutes (a fixed total is what breaks etcd's backups of a few hundred MB), but a node that stops
// sending is given up on.

import type { Connections } from './connections.js';
import { RaftkvConnectionError } from './errors.js';
import { type AnswerHeaders, type Outgoing, openStreaming, type StreamingAnswer } from './exchange.js';

export interface DownloadOptions {
  /**
   * Give up when nothing arrives for this long: the connection, the answer's start, a chunk. The
   * time the sink takes does not count.
   */
  readonly idleTimeoutMs: number;
  readonly signal?: AbortSignal;
}

/** A 200 streamed into the sink, or any other answer, read whole. */
export type Downloaded =
  | {
      readonly ok: true;
      readonly headers: AnswerHeaders;
      /** The HTTP trailers that followed the body. */
      readonly trailers: AnswerHeaders;
      readonly bytes: number;
    }
  | {
      readonly ok: false;
      readonly status: number;
      readonly headers: AnswerHeaders;
      readonly text: string;
    };

/**
 * Sends `out` and streams a 200's body into `sink`. Rejects with a RaftkvConnectionError when the
 * answer did not come, stopped coming for `idleTimeoutMs`, or was cut off; with `sink`'s own error
 * when it failed; with the signal's reason when the signal aborted the call.
 */
export async function download(
  to: Connections,
  out: Outgoing,
  options: DownloadOptions,
  sink: (chunk: Uint8Array) => Promise<void> | void,
): Promise<Downloaded> {
  const { signal, idleTimeoutMs } = options;
  const url = `${to.origin}${out.path}`;
  let answer: StreamingAnswer;
  try {
    // Up to the answer's head, the idle bound is the whole bound: nothing has arrived yet.
    answer = await openStreaming(to, out, {
      timeoutMs: idleTimeoutMs,
      ...(signal !== undefined && { signal }),
    });
  } catch (e) {
    if (e instanceof RaftkvConnectionError && e.timedOut) {
      throw new RaftkvConnectionError(
        out.method,
        url,
        e.connected,
        true,
        `nothing received for ${idleTimeoutMs} ms`,
      );
    }
    throw e;
  }
  const res = answer.body;
  let bytes = 0;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const stillAlive = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      answer.close();
    }, idleTimeoutMs);
  };
  // An abort also ends a wait on the sink: the caller may abort because the sink is stuck.
  let abortWait: (e: unknown) => void = () => {};
  const aborted = new Promise<never>((_, reject) => {
    abortWait = reject;
  });
  aborted.catch(() => {});
  const onAbort = (): void => {
    answer.close();
    abortWait(signal?.reason);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  // An object, not a variable: assigned in the loop, read in the catch (TypeScript narrows a `let`).
  const sinkFailure: { failed: boolean; error?: unknown } = { failed: false };
  stillAlive();
  try {
    if (answer.status !== 200) {
      const parts: Buffer[] = [];
      for await (const chunk of res) {
        parts.push(chunk as Buffer);
        stillAlive();
      }
      if (timedOut || signal?.aborted) throw new Error('ended early');
      return {
        ok: false,
        status: answer.status,
        headers: answer.headers,
        text: Buffer.concat(parts).toString(),
      };
    }
    for await (const chunk of res) {
      bytes += (chunk as Buffer).length;
      // The idle clock measures the node, not the sink: a slow disk is not a silent node.
      clearTimeout(timer);
      try {
        await Promise.race([sink(chunk as Buffer), aborted]);
        stillAlive();
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        sinkFailure.failed = true;
        sinkFailure.error = e;
        throw e;
      }
    }
    // The body ends only once the answer is whole (a break errors it): closed by the idle timer or
    // the signal, it may end early without an error.
    if (timedOut || signal?.aborted) throw new Error('ended early');
    return { ok: true, headers: answer.headers, trailers: answer.trailers(), bytes };
  } catch (e) {
    answer.close();
    if (sinkFailure.failed) throw sinkFailure.error;
    if (signal?.aborted) throw signal.reason;
    const during = bytes > 0 ? ` after ${bytes} bytes` : '';
    if (timedOut) {
      const reason = `nothing received for ${idleTimeoutMs} ms${during}`;
      throw new RaftkvConnectionError(out.method, url, true, true, reason);
    }
    const error = e instanceof Error ? e : new Error(String(e));
    if (bytes === 0) throw RaftkvConnectionError.of(out.method, url, true, error, idleTimeoutMs);
    const code = (error as NodeJS.ErrnoException).code;
    const why = error.message === 'answer cut off' ? ' (the connection closed)' : `: ${error.message}`;
    throw new RaftkvConnectionError(out.method, url, true, false, `the answer was cut off${during}${why}`, {
      cause: error,
      ...(code !== undefined && { code }),
    });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
