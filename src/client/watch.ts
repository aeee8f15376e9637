// Watching keys (GET /watch, docs/api.md#watch) as an async iterator of change events that goes on
// across broken connections and failed nodes: the stream is read as Server-Sent Events (sse.ts),
// and when it ends, breaks, falls silent or the node drops a slow reader, the watch resumes on
// the same or the next node with Last-Event-ID — every change once, in log order. A start the
// history no longer holds ends the iteration with WatchCompactedError (list the keys again, then
// watch from the list's index); an error answer of the API (400, 401, 403, 413) with
// RaftkvApiError; the caller's AbortSignal with its reason.

import type { WatchEvent } from '../api/service.js';
import { RaftkvApiError, RaftkvConnectionError } from './errors.js';
import type { StreamAnswer } from './exchange.js';
import type { RawRequest } from './requests.js';
import { sleep } from './retry.js';
import { type SseBlock, SseParser } from './sse.js';

export type { WatchEvent } from '../api/service.js';

/** One key, or every key under a prefix (the empty prefix: every key). */
export type WatchTarget = { readonly key: string } | { readonly prefix: string };

/** What a watch needs of a node: RaftkvClient is one. */
export interface StreamingNode {
  readonly url: string;
  openStream(
    req: RawRequest,
    options?: { readonly timeoutMs?: number; readonly signal?: AbortSignal },
  ): Promise<StreamAnswer>;
}

export interface WatchOptions {
  /** The first log index wanted (default: the next one the node applies, i.e. from now on). */
  readonly fromIndex?: number;
  /** More nodes to resume on, tried in turn after the client's own when a stream fails. */
  readonly failover?: readonly StreamingNode[];
  readonly signal?: AbortSignal;
  /** Bound on opening each stream (connecting and the answer's head); default the client's. */
  readonly timeoutMs?: number;
  /**
   * A stream that sends nothing for this long is taken for dead and resumed elsewhere; default
   * 45 s, three of the node's keepalives (keep it above the node's keepalive interval).
   */
  readonly idleTimeoutMs?: number;
  /** The first pause after every node failed in turn (doubling up to maxRetryMs); default 200. */
  readonly retryMs?: number;
  /** Default 5000. */
  readonly maxRetryMs?: number;
  /** Told every time the watch moves to a new stream, before it opens. */
  readonly onResume?: (resume: WatchResume) => void;
}

export interface WatchResume {
  /** The node the watch left, and why. */
  readonly from: string;
  readonly reason: string;
  /** The node it opens a stream on next. */
  readonly to: string;
  /** Every change up to this index has been given (the Last-Event-ID sent); null: none yet. */
  readonly after: number | null;
}

/**
 * The watch asked for changes the history no longer holds: from `oldestIndex` on it does. Read the
 * keys again (a list answers with its `index`) and watch from that index + 1.
 */
export class WatchCompactedError extends Error {
  override name = 'WatchCompactedError';
  constructor(
    readonly url: string,
    /** Every change up to this index had been given (null: none); the next was asked for. */
    readonly after: number | null,
    readonly oldestIndex: number,
  ) {
    super(
      `${url}: the changes asked for are older than the history the node keeps (its oldest index is ${oldestIndex}); read the keys again and watch from the read's index`,
    );
  }
}

/**
 * Where a watch stands, for resuming it exactly. Events of one index are written together, but a
 * connection can break midway through them: an index counts as complete only once something
 * else has followed it (another index, a keepalive, a progress id). Resuming after an incomplete
 * one asks for that index again and skips the events of it already given.
 */
export class ResumePoint {
  /** Every change up to this index has been given; null: nothing known yet. */
  private confirmed: number | null = null;
  /** The index of the last event given, and how many of its events were. */
  private current: number | null = null;
  private atCurrent = 0;
  /** Whether `current` is known to have been given whole. */
  private complete = true;
  /** Events of `current` to skip: sent again after a resume. */
  private skip = 0;

  /** The Last-Event-ID to resume with: every change up to it has been given (null: none known). */
  after(): number | null {
    return this.current !== null && !this.complete ? this.current - 1 : this.confirmed;
  }

  /** A new stream opens from after(): what it sends again of the last index is skipped. */
  resume(): number | null {
    this.skip = this.current !== null && !this.complete ? this.atCurrent : 0;
    return this.after();
  }

  /** An event arrived: whether to give it to the caller (false: already given). */
  event(index: number): boolean {
    if (this.current !== null) {
      if (index < this.current) return false;
      if (index === this.current) {
        if (this.skip > 0) {
          this.skip--;
          return false;
        }
        if (this.complete) return false;
        this.atCurrent++;
        return true;
      }
      this.complete = true;
    }
    // A new index: everything before it has come.
    this.skip = 0;
    this.confirm(index - 1);
    this.current = index;
    this.atCurrent = 1;
    this.complete = false;
    return true;
  }

  /** Something other than an event arrived (a keepalive, a progress id): the last index is whole. */
  other(progress: number | null): void {
    if (progress !== null) this.confirm(progress);
    if (this.current === null) return;
    if (this.skip === 0 || (progress !== null && progress >= this.current)) {
      this.skip = 0;
      this.complete = true;
      this.confirm(this.current);
    }
  }

  private confirm(index: number): void {
    if (this.confirmed === null || index > this.confirmed) this.confirmed = index;
  }
}

/** What one block of the stream says. */
type Said =
  | { readonly kind: 'event'; readonly event: WatchEvent }
  | { readonly kind: 'compacted'; readonly oldestIndex: number }
  | { readonly kind: 'dropped'; readonly lastIndex: number }
  | { readonly kind: 'other'; readonly progress: number | null };

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function nullableString(v: unknown): v is string | null {
  return v === null || typeof v === 'string';
}

/** Reads one block; throws on one that is not what the node sends (the stream is then left). */
function read(block: SseBlock): Said {
  const progress = block.id !== null && /^[0-9]{1,16}$/.test(block.id) ? Number(block.id) : null;
  if (block.data === null) return { kind: 'other', progress };
  let data: unknown;
  try {
    data = JSON.parse(block.data);
  } catch {
    throw new Error(`an event whose data is not JSON: ${block.data.slice(0, 100)}`);
  }
  const d = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
  const type = block.event;
  if (type === 'put' || type === 'delete') {
    if (
      typeof d.key !== 'string' ||
      !nullableString(d.value) ||
      !nullableString(d.prevValue) ||
      !isIndex(d.index)
    )
      throw new Error(`a malformed ${type} event: ${block.data.slice(0, 100)}`);
    return {
      kind: 'event',
      event: { index: d.index, type, key: d.key, value: d.value, prevValue: d.prevValue },
    };
  }
  if (type === 'compacted' && isIndex(d.oldestIndex))
    return { kind: 'compacted', oldestIndex: d.oldestIndex };
  if (type === 'dropped' && isIndex(d.lastIndex)) return { kind: 'dropped', lastIndex: d.lastIndex };
  // An event this client does not know: skipped, as an EventSource would leave it to no listener.
  return { kind: 'other', progress };
}

/** The path of GET /watch for `target`. */
export function watchPath(target: WatchTarget, fromIndex?: number): string {
  const q = new URLSearchParams('key' in target ? { key: target.key } : { prefix: target.prefix });
  if (fromIndex !== undefined) q.set('fromIndex', String(fromIndex));
  return `/watch?${q.toString()}`;
}

/** Statuses worth trying again elsewhere: the node is busy, stopping or without a leader. */
function retriable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

function describe(e: unknown): string {
  if (e instanceof RaftkvConnectionError) return e.reason;
  return e instanceof Error ? e.message : String(e);
}

/** The changes to `target`, from `nodes[0]` and, when it fails, the others in turn. */
export async function* watchChanges(
  nodes: readonly StreamingNode[],
  target: WatchTarget,
  options: WatchOptions = {},
): AsyncGenerator<WatchEvent, void, undefined> {
  if (nodes.length === 0) throw new TypeError('watch: no node to watch from');
  const { signal } = options;
  const idleMs = options.idleTimeoutMs ?? 45_000;
  const retryMs = options.retryMs ?? 200;
  const maxRetryMs = options.maxRetryMs ?? 5000;
  const path = watchPath(target, options.fromIndex);
  const point = new ResumePoint();
  let at = 0;
  /** Streams that failed in a row without giving anything (a pause after each full round). */
  let fruitless = 0;
  for (;;) {
    const client = nodes[at % nodes.length]!;
    const after = point.resume();
    let given = 0;
    let reason: string;
    let sameNode = false;
    try {
      const answer = await client.openStream(
        {
          method: 'GET',
          path,
          headers: { accept: 'text/event-stream', ...(after !== null && { 'last-event-id': String(after) }) },
        },
        {
          ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
          ...(signal && { signal }),
        },
      );
      if (answer.status !== 200) {
        const text = await answer.text();
        if (!retriable(answer.status)) throw new RaftkvApiError('GET', path, answer.status, parseJson(text));
        reason = `${answer.status}${errorOf(text)}`;
      } else {
        const ended = yield* readStream(answer, point, idleMs, signal, () => {
          given++;
        });
        if (signal?.aborted) throw signal.reason;
        if (ended.kind === 'compacted') throw new WatchCompactedError(client.url, after, ended.oldestIndex);
        reason = ended.reason;
        sameNode = ended.kind === 'dropped';
      }
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      if (e instanceof RaftkvApiError || e instanceof WatchCompactedError) throw e;
      reason = describe(e);
    }
    // A stream that gave nothing new (no event, no progress) does not count as a success.
    fruitless = given > 0 || point.after() !== after ? 0 : fruitless + 1;
    if (!sameNode) at++;
    options.onResume?.({ from: client.url, reason, to: nodes[at % nodes.length]!.url, after: point.after() });
    if (fruitless > 0 && fruitless % nodes.length === 0) {
      const round = fruitless / nodes.length - 1;
      await sleep(Math.min(maxRetryMs, retryMs * 2 ** Math.min(round, 20)), signal);
    }
  }
}

type StreamEnd =
  | { readonly kind: 'compacted'; readonly oldestIndex: number }
  | { readonly kind: 'dropped' | 'ended'; readonly reason: string };

/** Gives the stream's new events until it ends; says how it ended. */
async function* readStream(
  answer: StreamAnswer,
  point: ResumePoint,
  idleMs: number,
  signal: AbortSignal | undefined,
  gave: () => void,
): AsyncGenerator<WatchEvent, StreamEnd, undefined> {
  const body = answer.body;
  body.setEncoding('utf8');
  const parser = new SseParser();
  const chunks = body[Symbol.asyncIterator]() as AsyncIterator<string>;
  let idle = false;
  const onAbort = (): void => answer.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      // The silence is measured while waiting for the node, not while the caller handles an event.
      const timer = setTimeout(() => {
        idle = true;
        answer.close();
      }, idleMs);
      let next: IteratorResult<string>;
      try {
        next = await chunks.next();
      } catch (e) {
        if (idle) return { kind: 'ended', reason: `nothing received for ${idleMs} ms` };
        throw e;
      } finally {
        clearTimeout(timer);
      }
      if (next.done)
        return { kind: 'ended', reason: idle ? `nothing received for ${idleMs} ms` : 'the stream ended' };
      for (const block of parser.push(next.value)) {
        const said = read(block);
        switch (said.kind) {
          case 'event':
            if (point.event(said.event.index)) {
              gave();
              yield said.event;
            }
            break;
          case 'other':
            point.other(said.progress);
            break;
          case 'compacted':
            return said;
          case 'dropped':
            point.other(said.lastIndex);
            return {
              kind: 'dropped',
              reason: `the node dropped the watch after index ${said.lastIndex}: it was read too slowly`,
            };
        }
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    answer.close();
  }
}

function parseJson(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `: message (code)` of an error body, or nothing. */
function errorOf(text: string): string {
  const body = parseJson(text);
  if (typeof body !== 'object' || body === null) return '';
  const { error, code } = body as Record<string, unknown>;
  return typeof error === 'string' ? `: ${error}${typeof code === 'string' ? ` (${code})` : ''}` : '';
}
