// Goal: the forwarding frames of protocol version 4 and the version negotiation that lets members
// of two releases run together. Two version 4 transports carry the frames both ways, in order with
// the Raft messages. A proposal still queued when the connection to the leader fails is dropped
// with it, never sent once the connection is back (the node has failed that write by then), while
// the messages and the answers queued with it do leave. A version 4 transport dialling one that
// speaks only version 3 (the release before) connects again offering 3 — no failure counted,
// nothing reported unreachable — and forwards nothing over that connection: frames queued for it
// are dropped unsent, never sent to a peer that would take them as a protocol error. The next
// reconnection offers 4 again, so an upgraded peer is noticed. A peer that sends forwarding frames
// on a version 3 connection, or garbled ones, loses its connection (and the node keeps serving
// well-behaved peers).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message, NodeId } from '../../src/raft/types.js';
import {
  CONTROL_TAGS,
  decodeFrame,
  encodeForwardFrame,
  encodeHelloFrame,
  type ForwardFrame,
  type Frame,
} from '../../src/transport/control-frames.js';
import { CodecError } from '../../src/transport/index.js';
import type { PeerTransport } from '../../src/transport/peer-transport.js';
import { waitFor, within } from '../support/wait.js';
import {
  assertServesWellBehavedPeer,
  HOST,
  heartbeat,
  listeningTransport,
  portOf,
  rawClient,
  record,
} from './helpers.js';
import { partitionProxy } from './partition-proxy.js';

const CLUSTER = 'forwarding';

type Arrival =
  | { readonly from: NodeId; readonly message: Message }
  | { readonly from: NodeId; readonly frame: ForwardFrame };

/** Everything a transport receives, messages and forwarding frames, in the order they arrive. */
function arrivals(t: PeerTransport): Arrival[] {
  const out: Arrival[] = [];
  t.onMessage((message) => out.push({ from: message.from, message }));
  t.onForward((from, frame) => out.push({ from, frame }));
  return out;
}

const proposal = (requestId: number): ForwardFrame => ({
  kind: 'forwardProposal',
  requestId,
  data: Uint8Array.from([1, 2, requestId & 0xff]),
});

/** A frame (header included) from a tag and raw payload bytes after it. */
function rawFrame(...payload: number[]): Buffer {
  const b = Buffer.alloc(4 + payload.length);
  b.writeUInt32BE(payload.length, 0);
  Buffer.from(payload).copy(b, 4);
  return b;
}

describe('forwarding frames', () => {
  it('travel both ways between version 4 transports, in order with the messages', async () => {
    const b = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER });
    const bGot = arrivals(b);
    const a = await listeningTransport({
      nodeId: 'a',
      clusterId: CLUSTER,
      peers: { b: { host: HOST, port: portOf(b) } },
    });
    const aGot = arrivals(a);
    b.setPeer('a', { host: HOST, port: portOf(a) });
    try {
      assert.equal(a.canForwardTo('b'), false, 'not before the connection is up');
      // Queued before the connection exists: they leave, in order, once it is up.
      a.send(heartbeat('a', 'b', 1));
      assert.equal(a.sendForward('b', proposal(1)), true);
      a.send(heartbeat('a', 'b', 2));
      assert.equal(a.sendForward('b', proposal(2)), true);
      await waitFor('four arrivals at b', () => bGot.length === 4);
      assert.deepStrictEqual(
        bGot.map((x) =>
          'frame' in x ? `f${x.frame.requestId}` : `m${(x.message as { readRound: number }).readRound}`,
        ),
        ['m1', 'f1', 'm2', 'f2'],
      );
      const first = bGot[1]!;
      assert.ok('frame' in first && first.from === 'a');
      assert.deepStrictEqual(first.frame, proposal(1));
      assert.equal(a.canForwardTo('b'), true);
      assert.equal(a.peerStats('b')?.protocolVersion, 4);

      // The answers, on b's own connection to a.
      const appended: ForwardFrame = { kind: 'forwardAppended', requestId: 1, index: 42, term: 3 };
      const refused: ForwardFrame = {
        kind: 'forwardRefused',
        requestId: 2,
        code: 'busy',
        message: 'too many uncommitted writes',
        definite: true,
      };
      b.sendForward('a', appended);
      b.send(heartbeat('b', 'a', 9));
      b.sendForward('a', refused);
      await waitFor('three arrivals at a', () => aGot.length === 3);
      assert.deepStrictEqual(aGot[0], { from: 'b', frame: appended });
      assert.ok('message' in aGot[1]!);
      assert.deepStrictEqual(aGot[2], { from: 'b', frame: refused });
      assert.equal(b.canForwardTo('a'), true);
      assert.equal(a.sendForward('nobody', proposal(3)), false, 'an unknown peer');
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('no forwarding while the queue to the peer is half full: the messages keep their room', async () => {
    const b = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER });
    const bLog = record(b);
    const a = await listeningTransport({
      nodeId: 'a',
      clusterId: CLUSTER,
      maxQueueMessages: 10,
      peers: { b: { host: HOST, port: portOf(b) } },
    });
    try {
      a.send(heartbeat('a', 'b', 0));
      await waitFor('connected', () => a.canForwardTo('b'));
      // Queued in one turn, before the next flush.
      for (let i = 1; i <= 4; i++) a.send(heartbeat('a', 'b', i));
      assert.equal(a.canForwardTo('b'), true, 'four of ten');
      a.send(heartbeat('a', 'b', 5));
      assert.equal(a.canForwardTo('b'), false, 'five of ten');
      await waitFor('the queue drained', () => bLog.messages.length === 6);
      await waitFor('room again', () => a.canForwardTo('b'));
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('a proposal queued when the connection fails is dropped with it; the rest leaves after the heal', async () => {
    const liveness = { pingIntervalMs: 50, livenessTimeoutMs: 300 };
    const b = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER, ...liveness });
    const bGot = arrivals(b);
    const proxy = await partitionProxy(portOf(b));
    const a = await listeningTransport({
      nodeId: 'a',
      clusterId: CLUSTER,
      peers: { b: { host: HOST, port: proxy.port } },
      // Connection attempts into the partition hang; give each up quickly.
      connectTimeoutMs: 300,
      ...liveness,
    });
    const aLog = record(a);
    try {
      a.send(heartbeat('a', 'b', 1));
      await waitFor('connected at version 4', () => a.canForwardTo('b'));
      await waitFor('the first message at b', () => bGot.length === 1);
      proxy.partition();
      await waitFor('the stalled connection given up', () =>
        aLog.events.some((e) => e.type === 'peerUnreachable'),
      );
      // Queued while the connection is down: they wait for the next one, which hangs in the
      // partition and fails in turn.
      const answer: ForwardFrame = { kind: 'forwardAppended', requestId: 9, index: 42, term: 3 };
      a.send(heartbeat('a', 'b', 2));
      assert.equal(a.sendForward('b', proposal(1)), true);
      assert.equal(a.sendForward('b', answer), true);
      a.send(heartbeat('a', 'b', 3));
      const before = a.peerStats('b')!;
      await waitFor(
        'a connection attempt failed',
        () => a.peerStats('b')!.connectFailures > before.connectFailures,
      );
      assert.equal(a.peerStats('b')!.dropped, before.dropped + 1, 'the proposal dropped, nothing else');
      assert.equal(a.peerStats('b')!.queuedMessages, 3);
      proxy.heal();
      await waitFor('reconnected', () => a.canForwardTo('b'), { timeoutMs: 10_000 });
      // Anything still queued leaves before this one.
      a.send(heartbeat('a', 'b', 4));
      await waitFor('the last message at b', () =>
        bGot.some((x) => 'message' in x && (x.message as { readRound: number }).readRound === 4),
      );
      assert.deepStrictEqual(
        bGot.map((x) => ('frame' in x ? x.frame.kind : `m${(x.message as { readRound: number }).readRound}`)),
        ['m1', 'm2', 'forwardAppended', 'm3', 'm4'],
        'the proposal never left',
      );
    } finally {
      await a.stop();
      await b.stop();
      await within('the proxy closed', proxy.close());
    }
  });

  it('a frame over the size limit is dropped, not sent', async () => {
    const b = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER });
    const a = await listeningTransport({
      nodeId: 'a',
      clusterId: CLUSTER,
      maxFrameBytes: 1024,
      peers: { b: { host: HOST, port: portOf(b) } },
    });
    try {
      const big: ForwardFrame = { kind: 'forwardProposal', requestId: 1, data: new Uint8Array(2000) };
      assert.equal(a.sendForward('b', big), false);
      assert.equal(a.peerStats('b')?.dropped, 1);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

describe('protocol versions', () => {
  it('a version 4 node dials a version 3 one: it falls back to 3 at once and forwards nothing', async () => {
    const old = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER, protocolVersion: 3 });
    const oldLog = record(old);
    const oldGot = arrivals(old);
    const a = await listeningTransport({
      nodeId: 'a',
      clusterId: CLUSTER,
      peers: { b: { host: HOST, port: portOf(old) } },
    });
    const aLog = record(a);
    try {
      a.send(heartbeat('a', 'b', 1));
      assert.equal(a.sendForward('b', proposal(1)), true, 'queued while the version is not known');
      a.send(heartbeat('a', 'b', 2));
      await waitFor('both messages at the old node', () => oldLog.messages.length === 2);
      assert.deepStrictEqual(
        oldGot.map((x) => ('frame' in x ? 'frame' : 'message')),
        ['message', 'message'],
        'the forwarding frame was dropped unsent',
      );
      assert.equal(a.canForwardTo('b'), false);
      assert.equal(a.peerStats('b')?.protocolVersion, 3);
      // The version 4 Hello was refused (and said why); nothing else went wrong.
      const refusals = oldLog.events.flatMap((e) => (e.type === 'inboundRejected' ? [e.reason] : []));
      assert.deepStrictEqual(refusals, ['unsupported protocol version 4 (this node speaks 3)']);
      assert.ok(!oldLog.events.some((e) => e.type === 'protocolError'));
      assert.deepStrictEqual(
        aLog.events.map((e) => e.type),
        ['peerConnected'],
        'no peerUnreachable for the fallback',
      );
      const stats = a.peerStats('b')!;
      assert.equal(stats.connectFailures, 0);
      assert.equal(stats.dropped, 1);
      // Frames queued on the version 3 connection are dropped too, and the connection stays up.
      a.sendForward('b', proposal(2));
      a.send(heartbeat('a', 'b', 3));
      await waitFor('the third message', () => oldLog.messages.length === 3);
      assert.equal(a.peerStats('b')!.dropped, 2);
      assert.ok(!oldLog.events.some((e) => e.type === 'protocolError'));
      assert.equal(old.stats().inboundConnections, 1);
    } finally {
      await a.stop();
      await old.stop();
    }
  });

  it('a version 3 node dials a version 4 one: accepted at version 3, no forwarding', async () => {
    const b = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER });
    const bLog = record(b);
    const old = await listeningTransport({
      nodeId: 'a',
      clusterId: CLUSTER,
      protocolVersion: 3,
      peers: { b: { host: HOST, port: portOf(b) } },
    });
    try {
      old.send(heartbeat('a', 'b', 1));
      await waitFor('the message arrives', () => bLog.messages.length === 1);
      assert.equal(old.canForwardTo('b'), false);
      assert.ok(!bLog.events.some((e) => e.type === 'inboundRejected'));
    } finally {
      await old.stop();
      await b.stop();
    }
  });

  it('after a fallback, the next connection offers version 4 again: an upgraded peer is noticed', async () => {
    const old = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER, protocolVersion: 3 });
    const port = portOf(old);
    const a = await listeningTransport({
      nodeId: 'a',
      clusterId: CLUSTER,
      peers: { b: { host: HOST, port } },
    });
    let upgraded: PeerTransport | null = null;
    try {
      a.send(heartbeat('a', 'b', 1));
      await waitFor('connected at version 3', () => a.peerStats('b')?.connected === true);
      assert.equal(a.canForwardTo('b'), false);
      // The peer is upgraded: same id, same port, version 4.
      await old.stop();
      upgraded = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER, port });
      const got = arrivals(upgraded);
      await waitFor('reconnected at version 4', () => a.canForwardTo('b'), { timeoutMs: 10_000 });
      a.sendForward('b', proposal(7));
      await waitFor('the proposal arrives', () => got.some((x) => 'frame' in x));
    } finally {
      await a.stop();
      await old.stop();
      await upgraded?.stop();
    }
  });

  it('a transport is given a version it speaks, or refuses to be built', async () => {
    for (const protocolVersion of [2, 5, 3.5]) {
      await assert.rejects(
        listeningTransport({ nodeId: 'x', clusterId: CLUSTER, protocolVersion }),
        RangeError,
        `version ${protocolVersion}`,
      );
    }
  });
});

describe('hostile forwarding frames', () => {
  it('closes a connection that sends forwarding frames on version 3, or garbled ones, or before its Hello', async () => {
    const b = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER });
    const bLog = record(b);
    const bGot = arrivals(b);
    const port = portOf(b);
    const hello = (version: number, from: string): Buffer =>
      encodeHelloFrame({ version, clusterId: CLUSTER, from, to: 'b' });
    const attacks: Record<string, Buffer> = {
      'a proposal on a version 3 connection': Buffer.concat([
        hello(3, 'p1'),
        encodeForwardFrame(proposal(1)),
      ]),
      'a proposal before the Hello': encodeForwardFrame(proposal(1)),
      // Tag, requestId 1, then a data length of 5 with 2 bytes.
      'a truncated proposal': Buffer.concat([
        hello(4, 'p2'),
        rawFrame(CONTROL_TAGS.ForwardProposal, 1, 5, 0, 0),
      ]),
      'a non-canonical request id': Buffer.concat([
        hello(4, 'p3'),
        rawFrame(CONTROL_TAGS.ForwardAppended, 0x81, 0x00, 1, 1),
      ]),
      'a refusal whose definite is 2': Buffer.concat([
        hello(4, 'p4'),
        rawFrame(CONTROL_TAGS.ForwardRefused, 1, 0, 0, 2),
      ]),
      'trailing bytes after an answer': Buffer.concat([
        hello(4, 'p5'),
        rawFrame(CONTROL_TAGS.ForwardAppended, 1, 2, 3, 4),
      ]),
      'an unknown tag after the forwarding ones': Buffer.concat([hello(4, 'p6'), rawFrame(0x4a)]),
    };
    try {
      const closed: Promise<void>[] = [];
      const answers: Frame[][] = [];
      for (const bytes of Object.values(attacks)) {
        const c = rawClient(port);
        c.socket.write(bytes);
        closed.push(c.closed);
        answers.push(c.frames);
      }
      await within('every hostile connection closed', Promise.all(closed), { timeoutMs: 5_000 });
      const reasons = bLog.events.flatMap((e) => (e.type === 'protocolError' ? [e.reason] : []));
      assert.equal(reasons.length, Object.keys(attacks).length, reasons.join('\n'));
      assert.ok(reasons.some((r) => /unexpected forwardProposal frame on a version 3 connection/.test(r)));
      assert.ok(reasons.some((r) => /expected a Hello frame first, got forwardProposal/.test(r)));
      assert.ok(reasons.some((r) => /unknown frame tag 74/.test(r)));
      assert.equal(bGot.length, 0, 'nothing was handed to the node');
      await assertServesWellBehavedPeer(CLUSTER, port, bLog);
    } finally {
      await b.stop();
    }
  });

  it('the decoder refuses malformed forwarding frames with a CodecError', () => {
    const bad = [
      [CONTROL_TAGS.ForwardProposal],
      [CONTROL_TAGS.ForwardProposal, 1],
      [CONTROL_TAGS.ForwardAppended, 1, 1],
      [CONTROL_TAGS.ForwardRefused, 1, 1, 0xff, 0, 1],
      [CONTROL_TAGS.ForwardRefused, 1, 0, 0],
    ];
    for (const payload of bad) {
      assert.throws(() => decodeFrame(Uint8Array.from(payload)), CodecError, `payload ${payload.join(',')}`);
    }
  });
});
