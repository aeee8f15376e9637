// A TCP proxy to put between a transport and its peer, to play the network. It forwards bytes
// both ways and counts the frames it delivers, by tag. partition() cuts every connection through
// it the way a real partition does: no bytes pass in either direction, and no close or reset is
// passed on, so both ends keep a connection that looks open. A cut connection stays cut for good
// (TCP would resume it only at its next retransmission, possibly minutes later); connections
// accepted during the partition are never forwarded (a connect that hangs); heal() lets
// connections accepted after it through. Optionally the direction towards the peer is throttled,
// to play a slow link on which frames queue up behind a large transfer.

import * as net from 'node:net';
import { CONTROL_TAGS } from '../../src/transport/control-frames.js';
import { FrameDecoder } from '../../src/transport/framing.js';
import { HOST } from './helpers.js';

export interface PartitionProxy {
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: () => number;
  /** Frames delivered to the peer (`toPeer`) and back (`fromPeer`), by frame tag. */
  readonly toPeer: Map<number, number>;
  readonly fromPeer: Map<number, number>;
  /** Longest time a Ping frame waited in the proxy before delivery, in ms. */
  readonly maxPingDelayMs: () => number;
  partition(): void;
  heal(): void;
  close(): Promise<void>;
}

interface Pair {
  cut: boolean;
}

export async function partitionProxy(
  target: number,
  options: { bytesPerTick?: number; tickMs?: number } = {},
): Promise<PartitionProxy> {
  const pairs = new Set<Pair>();
  const toPeer = new Map<number, number>();
  const fromPeer = new Map<number, number>();
  let partitioned = false;
  let accepted = 0;
  let maxPingDelayMs = 0;
  const throttles = new Set<NodeJS.Timeout>();
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };

  const count = (counts: Map<number, number>, payload: Uint8Array): number => {
    const tag = payload[0]!;
    counts.set(tag, (counts.get(tag) ?? 0) + 1);
    return tag;
  };

  const server = net.createServer((client) => {
    accepted++;
    track(client);
    client.on('error', () => {});
    if (partitioned) {
      // A connect into the partition: accepted here, but nothing ever reaches the peer.
      const pair: Pair = { cut: true };
      pairs.add(pair);
      client.on('close', () => pairs.delete(pair));
      return;
    }
    const upstream = net.connect({ host: HOST, port: target });
    track(upstream);
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    upstream.on('error', () => {});
    const pair: Pair = { cut: false };
    pairs.add(pair);

    const down = new FrameDecoder(1 << 30);
    const up = new FrameDecoder(1 << 30);
    const deliverDown = (chunk: Buffer, queuedAt: number): void => {
      upstream.write(chunk);
      down.push(chunk, (payload) => {
        const tag = count(toPeer, payload);
        if (tag === CONTROL_TAGS.Ping) maxPingDelayMs = Math.max(maxPingDelayMs, Date.now() - queuedAt);
      });
    };

    const bytesPerTick = options.bytesPerTick;
    const queue: { chunk: Buffer; at: number }[] = [];
    if (bytesPerTick !== undefined) {
      const timer = setInterval(() => {
        let budget = bytesPerTick;
        while (budget > 0 && queue.length > 0 && !pair.cut) {
          const head = queue[0]!;
          const take = Math.min(budget, head.chunk.length);
          deliverDown(head.chunk.subarray(0, take), head.at);
          budget -= take;
          if (take === head.chunk.length) queue.shift();
          else head.chunk = head.chunk.subarray(take);
        }
      }, options.tickMs ?? 10);
      throttles.add(timer);
      client.on('close', () => {
        clearInterval(timer);
        throttles.delete(timer);
      });
    }

    client.on('data', (chunk: Buffer) => {
      if (pair.cut) return;
      if (bytesPerTick === undefined) deliverDown(chunk, Date.now());
      else queue.push({ chunk, at: Date.now() });
    });
    upstream.on('data', (chunk: Buffer) => {
      if (pair.cut) return;
      client.write(chunk);
      up.push(chunk, (payload) => count(fromPeer, payload));
    });
    // Closes pass through an intact connection only; a cut one keeps each end believing it is open.
    client.on('close', () => {
      if (!pair.cut) upstream.destroy();
      pairs.delete(pair);
    });
    upstream.on('close', () => {
      if (!pair.cut) client.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    accepted: () => accepted,
    toPeer,
    fromPeer,
    maxPingDelayMs: () => maxPingDelayMs,
    partition: () => {
      partitioned = true;
      for (const pair of pairs) pair.cut = true;
    },
    heal: () => {
      partitioned = false;
    },
    close: async () => {
      for (const timer of throttles) clearInterval(timer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
