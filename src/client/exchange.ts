// One HTTP exchange with a node, over undici (connections.ts: a kept-alive pool, or a fresh
// connection per request): the request out, the answer in — whole (exchange), or its head first
// and its body as a stream (openStreaming) — under a deadline and an optional AbortSignal. It is
// driven through undici's low-level dispatch with a handler object: request() would add a
// promise, an AbortSignal wrapper and a body stream to every call, and this is the client's hot
// path. One timer per call; a signal's listener only when a signal is given.
//
// Whether the request may have reached the node (RaftkvConnectionError.connected, hence
// mayHaveHappened in retry.ts) is the handler's onConnect. undici calls it from its HTTP/1.1
// writer, synchronously, right before it writes the request's head on a socket that is connected —
// and for https, one whose TLS handshake is done: undici's connector hands a socket over only on
// 'secureConnect'. So `connected` is true from the moment the request is handed to a live
// connection (the analog of node:http's socket 'connect'), and every failure before that sent
// nothing: refused, DNS, the connect timeout, a TLS handshake that failed, a call whose time ran
// out while it waited in the pool for a connection (when its turn comes, onConnect aborts it
// before a byte is written — undici then closes that connection too). A reset after onConnect
// may have followed the request's arrival.
//
// A reset right after a handshake that presented a client certificate is how a node refuses a
// certificate it does not trust (TLS 1.3 need send no alert first): the error's reason says so
// (RaftkvConnectionError.of's tlsNote) when the request was the first on a connection just made
// for it (connections.ts tells which) and no answer had come. The answer's headers come as undici gives them: names in lower case, a header sent more
// than once as an array of its values.

import { Readable } from 'node:stream';
import type { Client } from 'undici';
import type { Connections, DispatchHandler, DispatchOptions } from './connections.js';
import { RaftkvConnectionError } from './errors.js';

/** An answer's headers (or trailers): names in lower case; a header sent more than once, an array. */
export type AnswerHeaders = Readonly<Record<string, string | string[] | undefined>>;

export interface Outgoing {
  readonly method: string;
  /** Path and query, sent exactly as given (no normalisation). */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: string | Uint8Array;
}

export interface Incoming {
  readonly status: number;
  readonly headers: AnswerHeaders;
  readonly text: string;
}

export interface ExchangeOptions {
  /** The whole exchange (for openStreaming: up to the answer's head), connecting included. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** An answer whose head has come and whose body is still to be read (an event stream). */
export interface StreamingAnswer {
  readonly status: number;
  readonly headers: AnswerHeaders;
  /** The body, as it arrives (Buffers); it errors when the connection breaks before its end. */
  readonly body: Readable;
  /** The HTTP trailers that followed the body: empty until the body has ended, or when none came. */
  trailers(): AnswerHeaders;
  /** Ends the exchange: the body ends, and the connection is closed unless the answer was whole. */
  close(): void;
}

/** An answer whose body is read as it comes (an event stream): see RaftkvClient.openStream. */
export interface StreamAnswer extends StreamingAnswer {
  /** Reads the rest of the body whole (for an error answer). */
  text(): Promise<string>;
}

/**
 * Sends `out` to the node of `to`. Resolves with any HTTP answer; rejects with a
 * RaftkvConnectionError when none came, or with the signal's reason when it aborted the call.
 */
export function exchange(to: Connections, out: Outgoing, options: ExchangeOptions): Promise<Incoming> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<Incoming>((resolve, reject) => {
    new WholeAnswer(to, out, options, resolve, reject).start();
  });
}

/**
 * Sends `out` and resolves once the answer's head has come (within `timeoutMs`), leaving its body
 * to the caller — for an answer that does not end by itself. Rejects like exchange().
 */
export function openStreaming(
  to: Connections,
  out: Outgoing,
  options: ExchangeOptions,
): Promise<StreamingAnswer> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<StreamingAnswer>((resolve, reject) => {
    new Streaming(to, out, options, resolve, reject).start();
  });
}

const noHeaders: AnswerHeaders = Object.freeze({});
const noop = (): void => {};
const tlsRefusal =
  'the node closed the connection right after the handshake: it may not trust the client certificate';

/** The exchange's part common to both ways: the deadline, the signal, connected, cancelling. */
abstract class Exchange implements DispatchHandler {
  /** The request was handed to a live connection: it may have reached the node (see the top). */
  protected connected = false;
  /** This request's connection was made for it (noted only where it serves tlsNote: presentsCert). */
  private fresh = false;
  /** The answer's head came. */
  protected answered = false;
  /** The call is over for its caller (answered, failed, out of time, aborted). */
  protected settled = false;
  private abortRequest: ((error?: Error) => void) | undefined;
  private oneOff: Client | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    protected readonly to: Connections,
    protected readonly out: Outgoing,
    protected readonly options: ExchangeOptions,
    protected readonly reject: (reason: unknown) => void,
  ) {}

  start(): void {
    const { out, options } = this;
    this.timer = setTimeout(timeUp, options.timeoutMs, this);
    options.signal?.addEventListener('abort', this, { once: true });
    this.oneOff = this.to.dispatch(
      {
        // undici checks that it is a token; any method may be sent.
        method: out.method as DispatchOptions['method'],
        path: out.path,
        // undici copies them into the request's head and keeps nothing.
        headers: out.headers as Record<string, string | string[]>,
        body: out.body ?? null,
      },
      this,
    );
  }

  onConnect(abort: (error?: Error) => void): void {
    // Given up on while it waited for a connection: it goes no further (nothing is written).
    if (this.settled) {
      abort();
      return;
    }
    this.connected = true;
    this.abortRequest = abort;
    if (this.to.presentsCert) this.fresh = this.to.firstOnConnection();
  }

  abstract onHeaders(status: number, headers: Buffer[], resume: () => void): boolean;
  abstract onData(chunk: Buffer): boolean;
  abstract onComplete(trailers: RawHeaders | null): void;
  abstract onError(error: Error): void;

  /** The signal aborted the call (EventTarget calls an object listener's handleEvent). */
  handleEvent(): void {
    if (this.settle()) this.reject(this.options.signal?.reason);
    this.cancel();
  }

  /** The call's time ran out. */
  timeUp(): void {
    if (this.settle()) this.reject(this.failure(null));
    this.cancel();
  }

  /** Marks the call over for its caller; false when it already was. */
  protected settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    clearTimeout(this.timer);
    this.options.signal?.removeEventListener('abort', this);
    return true;
  }

  /**
   * Ends the request where it is: still waiting for a connection, it is never sent (onConnect
   * aborts it); under way, its connection is closed; answered whole, nothing happens.
   */
  protected cancel(): void {
    if (this.oneOff !== undefined) this.oneOff.destroy(noop);
    else this.abortRequest?.();
  }

  /** What `error` (null: the time ran out) means for the caller. */
  protected failure(error: Error | null): unknown {
    const code = (error as NodeJS.ErrnoException | null)?.code;
    // A request undici will not send (a bad header, method or path) is the caller's error.
    if (code === 'UND_ERR_INVALID_ARG' && !this.connected) return error;
    const tlsNote = this.fresh && !this.answered ? tlsRefusal : undefined;
    return RaftkvConnectionError.of(
      this.out.method,
      `${this.to.origin}${this.out.path}`,
      this.connected,
      error === null ? null : this.plain(error),
      this.options.timeoutMs,
      tlsNote,
    );
  }

  /** undici's "other side closed" in the words and code node:http gives a broken connection. */
  protected plain(error: Error): Error {
    if ((error as NodeJS.ErrnoException).code !== 'UND_ERR_SOCKET' || error.message !== 'other side closed')
      return error;
    const message = this.answered ? 'answer cut off' : 'the connection closed before an answer';
    return Object.assign(new Error(message, { cause: error }), { code: 'ECONNRESET' });
  }
}

function timeUp(exchange: Exchange): void {
  exchange.timeUp();
}

/** An answer read whole. */
class WholeAnswer extends Exchange {
  private status = 0;
  private headers = noHeaders;
  private readonly chunks: Buffer[] = [];

  constructor(
    to: Connections,
    out: Outgoing,
    options: ExchangeOptions,
    private readonly resolve: (answer: Incoming) => void,
    reject: (reason: unknown) => void,
  ) {
    super(to, out, options, reject);
  }

  onHeaders(status: number, headers: Buffer[]): boolean {
    // A 1xx is not the answer; undici hands it over too.
    if (status < 200) return true;
    this.status = status;
    this.headers = headersOf(headers);
    this.answered = true;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    if (!this.settle()) return;
    const { chunks } = this;
    const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
    this.resolve({ status: this.status, headers: this.headers, text });
  }

  onError(error: Error): void {
    if (this.settle()) this.reject(this.failure(error));
  }
}

/** An answer whose head is handed over, and its body as a stream. */
class Streaming extends Exchange {
  private body: Readable | undefined;
  private trailers = noHeaders;

  constructor(
    to: Connections,
    out: Outgoing,
    options: ExchangeOptions,
    private readonly resolve: (answer: StreamingAnswer) => void,
    reject: (reason: unknown) => void,
  ) {
    super(to, out, options, reject);
  }

  onHeaders(status: number, headers: Buffer[], _resume: () => void): boolean {
    if (status < 200) return true;
    this.answered = true;
    if (!this.settle()) {
      this.cancel();
      return false;
    }
    // The body never tells undici to stop reading (onData is always true): undici 6's HTTP/1
    // parser, paused for a full body, crashes the process when the node then closes the
    // connection (an uncatchable AssertionError in its socket 'end' handler — undici issue 5360,
    // fixed only in undici 8, which needs Node 22.19). So a reader slower than the node has the
    // rest of the answer buffered here instead: a backup download's file writes keep up, and a
    // watch's events come at the rate of the cluster's writes.
    const body = new Readable({
      highWaterMark: 64 * 1024,
      read: noop,
      destroy: (error, callback) => {
        this.cancel();
        callback(error);
      },
    });
    this.body = body;
    this.resolve({
      status,
      headers: headersOf(headers),
      body,
      trailers: () => this.trailers,
      close: () => body.destroy(),
    });
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.body?.push(chunk);
    return true;
  }

  onComplete(trailers: RawHeaders | null): void {
    if (trailers !== null && trailers.length > 0) this.trailers = headersOf(trailers);
    this.body?.push(null);
  }

  onError(error: Error): void {
    // Before the head: the call fails; after it, the body does (its reader sees the error).
    if (this.body === undefined) {
      if (this.settle()) this.reject(this.failure(error));
    } else {
      this.body.destroy(this.plain(error));
    }
  }
}

/** undici's raw header list: name, value, name, value... (Buffers; its types say strings for trailers). */
type RawHeaders = readonly (Buffer | string)[];

/** A raw header list as an object. */
function headersOf(raw: RawHeaders | null): AnswerHeaders {
  const headers: Record<string, string | string[]> = {};
  if (raw === null) return headers;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = latin1(raw[i]!).toLowerCase();
    const item = raw[i + 1]!;
    const value = typeof item === 'string' ? item : item.toString('utf8');
    // Own only: a header named `constructor` is not Object's.
    const had = Object.hasOwn(headers, name) ? headers[name] : undefined;
    if (had === undefined) headers[name] = value;
    else if (typeof had === 'string') headers[name] = [had, value];
    else had.push(value);
  }
  return headers;
}

const latin1 = (b: Buffer | string): string => (typeof b === 'string' ? b : b.toString('latin1'));
