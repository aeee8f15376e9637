// Shared plumbing for the transport's network tests: transports on 127.0.0.1 with ephemeral
// ports, records of what they receive, raw peer connections. (Waiting: test/support/wait.ts.)

import * as net from 'node:net';
import type { Heartbeat, Message, NodeId } from '../../src/raft/types.js';
import { decodeFrame, type Frame } from '../../src/transport/control-frames.js';
import { FrameDecoder } from '../../src/transport/framing.js';
import { PeerTransport, type PeerTransportOptions } from '../../src/transport/peer-transport.js';
import type { TransportEvent } from '../../src/transport/types.js';
import { freePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

export const HOST = '127.0.0.1';

/** Fast, deterministic reconnects so that tests spend their time on behaviour, not on waiting. */
export const quickBackoff = { initialMs: 5, maxMs: 40, multiplier: 2, random: () => 0.5 };

/** A started transport listening on an ephemeral port of 127.0.0.1. */
export async function listeningTransport(
  options: Omit<PeerTransportOptions, 'listen'> & { port?: number },
): Promise<PeerTransport> {
  const t = new PeerTransport({
    backoff: quickBackoff,
    ...options,
    listen: { host: HOST, port: options.port ?? 0 },
  });
  await t.start();
  return t;
}

export function portOf(t: PeerTransport): number {
  const a = t.address();
  if (a === null) throw new Error(`transport ${t.nodeId} is not listening`);
  return a.port;
}

/** Records everything a transport receives and reports. */
export function record(t: PeerTransport): { messages: Message[]; events: TransportEvent[] } {
  const messages: Message[] = [];
  const events: TransportEvent[] = [];
  t.onMessage((m) => messages.push(m));
  t.onEvent((e) => events.push(e));
  return { messages, events };
}

export function heartbeat(from: NodeId, to: NodeId, seq: number): Heartbeat {
  return { type: 'Heartbeat', from, to, term: 1, leaderCommit: seq, readRound: seq };
}

/** A port that was free a moment ago and has nothing listening on it now. */
export async function freePort(): Promise<number> {
  return (await freePorts(1, HOST))[0]!;
}

/** Counts of the active handles that would keep the process alive. */
export function liveHandles(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

/**
 * A hand-driven peer connection for probing the protocol: raw bytes out, decoded frames in.
 * `closed` resolves when the transport on the other end hangs up.
 */
export function rawClient(port: number): {
  socket: net.Socket;
  frames: Frame[];
  closed: Promise<void>;
} {
  const socket = net.connect({ host: HOST, port });
  const frames: Frame[] = [];
  const decoder = new FrameDecoder(1 << 20);
  socket.on('data', (chunk: Buffer) => decoder.push(chunk, (p) => frames.push(decodeFrame(p))));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  return { socket, frames, closed };
}

/**
 * Checks that transport `b` (listening on `port`, its receipts in `received`) still serves a
 * well-behaved peer: a new one connects and its message arrives.
 */
export async function assertServesWellBehavedPeer(
  clusterId: string,
  port: number,
  received: { readonly messages: readonly Message[] },
): Promise<void> {
  const before = received.messages.length;
  const good = await listeningTransport({ nodeId: 'good', clusterId, peers: { b: { host: HOST, port } } });
  try {
    good.send(heartbeat('good', 'b', 7));
    await waitFor('a message from a well-behaved peer', () => received.messages.length === before + 1);
  } finally {
    await good.stop();
  }
}

/**
 * Puts `server` (HTTP or HTTPS) in front of `transport`: peer upgrades go to it, other upgrades
 * are dropped. Resolves with the port and a function that closes the server and its connections.
 */
export async function serveUpgrades(
  server: import('node:http').Server,
  transport: PeerTransport,
): Promise<{ port: number; close: () => Promise<void> }> {
  server.on('upgrade', (req, socket, head) => {
    if (!transport.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = (server.address() as import('node:net').AddressInfo).port;
  return {
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
