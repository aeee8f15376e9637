// One watch's answer as Server-Sent Events (docs/api.md#watch): a 200 `text/event-stream` that
// stays open, each change one event —
//
//   id: 42
//   event: put
//   data: {"key":"a","value":"1","prevValue":null,"index":42}
//
// then a blank line. JSON keeps `data` on one line (a newline in a value is escaped), so an event
// is never split across data lines. Besides the events: a progress marker, `id: N` alone (no data,
// so an SSE client dispatches nothing but remembers N as its Last-Event-ID), written when the
// watch opens (N = the index before its first) and with keepalives; comment lines (`: keepalive`)
// that keep an idle stream's proxies and clients from timing it out; and, when the node ends the
// watch, `event: compacted` `{"oldestIndex"}` or `event: dropped` `{"lastIndex"}` just before the
// stream closes. Every piece is written at once (no buffering past the socket's).

import type { ServerResponse } from 'node:http';
import type { WatchEnd, WatchEvent, WatchSink } from '../api/service.js';

export const sseHeaders = {
  // SSE is UTF-8 by definition: no charset parameter.
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  // Proxies that buffer answers (nginx) would hold the events back.
  'x-accel-buffering': 'no',
} as const;

/** One change as an SSE event. */
export function formatEvent(e: WatchEvent): string {
  const data = JSON.stringify({ key: e.key, value: e.value, prevValue: e.prevValue, index: e.index });
  return `id: ${e.index}\nevent: ${e.type}\ndata: ${data}\n\n`;
}

/**
 * A change's SSE bytes, made once however many watchers it goes to: the hub hands every watcher
 * the same event object, and the bytes stay with it while it lives (they go with it when the
 * history drops it).
 */
const encoded = new WeakMap<WatchEvent, Buffer>();

function encodedEvent(e: WatchEvent): Buffer {
  let bytes = encoded.get(e);
  if (bytes === undefined) {
    bytes = Buffer.from(formatEvent(e));
    encoded.set(e, bytes);
  }
  return bytes;
}

/** A progress marker: everything up to `index` has been sent (SSE clients dispatch nothing). */
export function formatProgress(index: number): string {
  return `id: ${index}\n\n`;
}

/** The last words of a watch the node ends. */
export function formatEnd(how: WatchEnd): string {
  switch (how.kind) {
    case 'compacted':
      return `event: compacted\ndata: ${JSON.stringify({ oldestIndex: how.oldestIndex })}\n\n`;
    case 'dropped':
      // The id lets an SSE client resume right after what it was sent.
      return `id: ${how.lastIndex}\nevent: dropped\ndata: ${JSON.stringify({ lastIndex: how.lastIndex })}\n\n`;
    case 'closed':
      return ': the node is shutting down; resume on another node with Last-Event-ID\n\n';
  }
}

/** A watch's SSE answer: the sink the node writes to (src/api/service.ts WatchSink). */
export class SseWatchStream implements WatchSink {
  private headSent = false;
  private done = false;

  constructor(
    private readonly res: ServerResponse,
    /** Called once, when the node ends the stream or the client goes away. */
    private readonly onFinished: () => void,
  ) {
    res.once('close', () => this.finish());
  }

  /** The node has ended it, or the client has gone. */
  get finished(): boolean {
    return this.done;
  }

  /** Sends the 200 and the headers now, if nothing has yet (a watch with nothing to say yet). */
  sendHead(): void {
    if (this.headSent || this.done) return;
    this.headSent = true;
    // Keep-alive said outright (as SSE servers do), unless the client asked to close: a header of
    // ours would otherwise keep open a connection node:http is meant to close after the answer.
    this.res.writeHead(
      200,
      this.res.shouldKeepAlive ? { ...sseHeaders, connection: 'keep-alive' } : sseHeaders,
    );
    this.res.flushHeaders();
  }

  start(from: number): void {
    this.write(`: watching from index ${from}\n${formatProgress(from - 1)}`);
  }

  events(batch: readonly WatchEvent[]): boolean {
    // One write per index: its events go out together.
    return this.write(batch.length === 1 ? encodedEvent(batch[0]!) : Buffer.concat(batch.map(encodedEvent)));
  }

  keepalive(progress: number | null): void {
    this.write(progress === null ? ': keepalive\n\n' : `: keepalive\n${formatProgress(progress)}`);
  }

  end(how: WatchEnd): void {
    if (this.done) return;
    this.write(formatEnd(how));
    this.res.end();
    this.finish();
  }

  buffered(): number {
    return this.res.writableLength;
  }

  onDrain(fn: () => void): void {
    this.res.once('drain', fn);
  }

  private write(text: string | Buffer): boolean {
    if (this.done || this.res.destroyed) return false;
    this.sendHead();
    return this.res.write(text);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.onFinished();
  }
}
