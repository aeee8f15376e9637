// A download over node:http(s): the answer's body handed chunk by chunk to the caller's sink, which
// sets the pace (the next chunk is read once the sink's promise resolves) — for an answer too large
// to hold, a backup. Bounded by an idle timeout rather than a total one: a large backup may take
// minutes (a fixed total is what breaks etcd's backups of a few hundred MB), but a node that stops
// sending is given up on.

import type http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { RaftkvConnectionError } from './errors.js';
import { type Outgoing, openRequest } from './exchange.js';
import type { ClientTls } from './tls.js';

export interface DownloadOptions {
  /**
   * Give up when nothing arrives for this long: the connection, the answer's start, a chunk. The
   * time the sink takes does not count.
   */
  readonly idleTimeoutMs: number;
  readonly signal?: AbortSignal;
  /** An agent to reuse connections with, or false for a fresh connection. */
  readonly agent: http.Agent | false;
  /** https: what the client trusts and presents (a fresh connection's; an agent carries the same). */
  readonly tls?: ClientTls;
}

/** A 200 streamed into the sink, or any other answer, read whole. */
export type Downloaded =
  | {
      readonly ok: true;
      readonly headers: IncomingHttpHeaders;
      /** The HTTP trailers that followed the body. */
      readonly trailers: Readonly<Record<string, string | undefined>>;
      readonly bytes: number;
    }
  | {
      readonly ok: false;
      readonly status: number;
      readonly headers: IncomingHttpHeaders;
      readonly text: string;
    };

/**
 * Sends `out` and streams a 200's body into `sink`. Rejects with a RaftkvConnectionError when the
 * answer did not come, stopped coming for `idleTimeoutMs`, or was cut off; with `sink`'s own error
 * when it failed; with the signal's reason when the signal aborted the call.
 */
export async function download(
  base: URL,
  out: Outgoing,
  options: DownloadOptions,
  sink: (chunk: Uint8Array) => Promise<void> | void,
): Promise<Downloaded> {
  const { signal, idleTimeoutMs } = options;
  if (signal?.aborted) throw signal.reason;
  const { req, url, connected, tlsNote } = openRequest(base, out, options.agent, options.tls);
  let bytes = 0;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const stillAlive = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      req.destroy();
    }, idleTimeoutMs);
  };
  // An abort also ends a wait on the sink: the caller may abort because the sink is stuck.
  let abortWait: (e: unknown) => void = () => {};
  const aborted = new Promise<never>((_, reject) => {
    abortWait = reject;
  });
  aborted.catch(() => {});
  const onAbort = (): void => {
    req.destroy();
    abortWait(signal?.reason);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  // An object, not a variable: assigned in the loop, read in the catch (TypeScript narrows a `let`).
  const sinkFailure: { failed: boolean; error?: unknown } = { failed: false };
  stillAlive();
  try {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', reject);
      req.end(out.body);
    });
    stillAlive();
    if (res.statusCode !== 200) {
      const parts: Buffer[] = [];
      for await (const chunk of res) parts.push(chunk as Buffer);
      return {
        ok: false,
        status: res.statusCode ?? 0,
        headers: res.headers,
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
    if (!res.complete) throw Object.assign(new Error('connection closed'), { code: 'ECONNRESET' });
    return { ok: true, headers: res.headers, trailers: res.trailers, bytes };
  } catch (e) {
    req.destroy();
    if (sinkFailure.failed) throw sinkFailure.error;
    if (signal?.aborted) throw signal.reason;
    const during = bytes > 0 ? ` after ${bytes} bytes` : '';
    if (timedOut) {
      const reason = `nothing received for ${idleTimeoutMs} ms${during}`;
      throw new RaftkvConnectionError(out.method, url, connected(), true, reason);
    }
    const error = e instanceof Error ? e : new Error(String(e));
    if (bytes === 0) {
      throw RaftkvConnectionError.of(out.method, url, connected(), error, idleTimeoutMs, tlsNote());
    }
    const code = (error as NodeJS.ErrnoException).code;
    throw new RaftkvConnectionError(
      out.method,
      url,
      true,
      false,
      `the answer was cut off${during}: ${error.message}`,
      {
        cause: error,
        ...(code !== undefined && { code }),
      },
    );
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
