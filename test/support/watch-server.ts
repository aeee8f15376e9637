// GET /watch served in process: the real HTTP server (KvHttpServer) in front of a service whose
// watches come from a real WatchHub over a history the test drives (event-history.ts); and a raw
// SSE reader that keeps everything the stream sent, for assertions on the wire.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  KvService,
  WatchEnd,
  WatchEvent,
  WatchHandle,
  WatchSink,
  WatchSpec,
} from '../../src/api/service.js';
import { NodeMetrics } from '../../src/metrics/index.js';
import { realClock } from '../../src/node/clock.js';
import { WatchHub, type WatchLimits } from '../../src/node/watch-hub.js';
import { type HttpServerOptions, KvHttpServer } from '../../src/server/http-server.js';
import { FakeHistory } from './event-history.js';
import { LOOPBACK } from './ports.js';
import { waitFor } from './wait.js';

const unused = async (): Promise<never> => {
  throw new Error('not served by the watch test service');
};

/** A node as GET /watch sees it: the hub's watches; GET /kv/{key} answers "absent"; nothing else. */
export class WatchService implements KvService {
  readonly nodeId = 'n1';
  /** Keepalives written to any watcher: a clock the tests can wait on. */
  keepalives = 0;
  private readonly sinks = new Set<WatchSink>();

  constructor(readonly hub: WatchHub) {}

  watch(spec: WatchSpec, sink: WatchSink): WatchHandle {
    const counted: WatchSink = {
      start: (from: number) => sink.start(from),
      events: (batch: readonly WatchEvent[]) => sink.events(batch),
      keepalive: (progress: number | null) => {
        this.keepalives++;
        sink.keepalive(progress);
      },
      end: (how: WatchEnd) => sink.end(how),
      buffered: () => sink.buffered(),
      onDrain: (fn: () => void) => sink.onDrain(fn),
    };
    this.sinks.add(sink);
    return this.hub.open(spec, counted);
  }

  /** The most bytes any watch stream has waiting for its client. */
  buffered(): number {
    return Math.max(0, ...[...this.sinks].map((s) => s.buffered()));
  }

  async get(key: string) {
    return { key, value: null, index: 0 };
  }

  put = unused;
  del = unused;
  txn = unused;
  leaseGrant = unused;
  leaseKeepalive = unused;
  leaseRevoke = unused;
  leaseInfo = unused;
  list = unused;
  snapshot = unused;
  backup = unused;
  alarm = unused;
  members = unused;
  addMember = unused;
  promoteMember = unused;
  removeMember = unused;
  moveLeader = unused;

  debug(): Record<string, unknown> {
    return { nodeId: this.nodeId };
  }

  health() {
    return { ok: true, reason: 'leader' };
  }

  space() {
    return { alarms: [], quotaBytes: null, stateBytes: 0, index: 0 };
  }
}

export interface WatchServer {
  readonly history: FakeHistory;
  readonly hub: WatchHub;
  readonly service: WatchService;
  readonly server: KvHttpServer;
  readonly port: number;
  readonly url: string;
  /** Applies entries to the history (each a list of changes) and dispatches them. */
  apply(...entries: (readonly ['put' | 'delete', string, string?][])[]): void;
  /** Closes the server (ending its watches) and every connection. */
  stop(): Promise<void>;
}

/**
 * A server on a loopback port, stopped after the test. `history` may be shared by several
 * servers: each is a node with its own hub over the same applied state.
 */
export async function serveWatches(
  t: { after: (fn: () => Promise<void>) => void },
  options: {
    readonly limits?: Partial<WatchLimits>;
    readonly http?: Partial<HttpServerOptions>;
    readonly history?: FakeHistory;
  } = {},
): Promise<WatchServer> {
  const history = options.history ?? new FakeHistory();
  const hub = new WatchHub(() => history, realClock, { keepaliveMs: 100, ...options.limits });
  const service = new WatchService(hub);
  const server = new KvHttpServer(service, {
    metrics: new NodeMetrics(),
    requestTimeoutMs: 5_000,
    maxInflight: 64,
    now: () => performance.now(),
    ...options.http,
  });
  await server.listen(LOOPBACK, 0);
  const port = (server.server.address() as AddressInfo).port;
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const closing = server.close();
      server.closeAllConnections();
      await closing;
      hub.close();
    })();
    return stopping;
  };
  t.after(stop);
  return {
    history,
    hub,
    service,
    server,
    port,
    url: `http://${LOOPBACK}:${port}`,
    apply: (...entries) => {
      for (const changes of entries) history.apply(...changes);
      hub.dispatch();
    },
    stop,
  };
}

/** A raw SSE answer, as it arrives. */
export interface RawStream {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly res: http.IncomingMessage;
  /** Everything received so far. */
  text(): string;
  /** Whether the answer has ended (the node closed the stream). */
  ended(): boolean;
  /** Resolves once the text contains `part` (rejects after the wait's deadline). */
  until(part: string, timeoutMs?: number): Promise<void>;
  /** Resolves once the answer has ended. */
  end(timeoutMs?: number): Promise<void>;
  /** Closes the connection. */
  close(): void;
}

/** GET `path` on a fresh connection; resolves once the answer's head has come. */
export function openRaw(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawStream> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: LOOPBACK, port, path, headers, agent: false }, (res) => {
      let text = '';
      let ended = false;
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => {
        ended = true;
      });
      res.on('error', () => {});
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        res,
        text: () => text,
        ended: () => ended,
        until: async (part, timeoutMs = 10_000) => {
          await waitFor(`the stream to contain ${JSON.stringify(part)}`, () => text.includes(part), {
            timeoutMs,
            intervalMs: 5,
          });
        },
        end: async (timeoutMs = 10_000) => {
          await waitFor('the stream to end', () => ended, { timeoutMs, intervalMs: 5 });
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}
