// Peer round-trip times, taken where the leader already talks to every follower once per
// heartbeat interval: from a Heartbeat leaving this node to its HeartbeatResponse arriving, on the
// driver's injected monotonic clock (the core has no clock and stays pure: it only sends the
// heartbeats). What it measures is the round a ReadIndex confirmation (§6.4) and the followers'
// election timers depend on: the network both ways plus the time the follower takes to answer —
// its event loop, and a batch of its own it is busy writing (a HeartbeatResponse leaves after the
// follower's fsync, types.ts messageTiming).
//
// A HeartbeatResponse does not say which Heartbeat it answers: it echoes only the read round,
// which many heartbeats share. But the messages to one peer travel in order on one connection, and
// each heartbeat gets exactly one answer, so answers arrive in the order the heartbeats left —
// the n-th answer is the n-th heartbeat's. That holds until a heartbeat or an answer is lost,
// which is the connection's doing (the transport reports it: the peer's list starts over), or a
// term's (each sent heartbeat carries its term: an answer of a newer term drops the older
// entries, one of an older term is ignored). The echoed read round is a further check (an answer
// of round r drops the entries of earlier rounds still listed: those heartbeats were lost). The
// list per peer is bounded: a peer that answers nothing for that many heartbeats is not measured
// until it answers again.

import type { Heartbeat, HeartbeatResponse, NodeId } from '../raft/index.js';

/** A heartbeat waiting for its answer. */
interface SentHeartbeat {
  readonly atMs: number;
  readonly term: number;
  readonly readRound: number;
}

/** Unanswered heartbeats kept per peer; past this the peer's list starts over. */
export const maxUnansweredHeartbeats = 64;

export class HeartbeatRoundTrips {
  private readonly unanswered = new Map<NodeId, SentHeartbeat[]>();

  /** `observe(peer, seconds)` receives each round trip measured. */
  constructor(private readonly observe: (peer: NodeId, seconds: number) => void) {}

  /** A heartbeat is leaving for its peer at `nowMs`. */
  sent(m: Heartbeat, nowMs: number): void {
    let list = this.unanswered.get(m.to);
    if (list === undefined) {
      list = [];
      this.unanswered.set(m.to, list);
    } else if (list.length >= maxUnansweredHeartbeats) {
      list.length = 0;
    }
    list.push({ atMs: nowMs, term: m.term, readRound: m.readRound });
  }

  /** A heartbeat's answer arrived from its peer at `nowMs`. */
  answered(m: HeartbeatResponse, nowMs: number): void {
    const list = this.unanswered.get(m.from);
    if (list === undefined) return;
    // Entries of older terms, or of earlier read rounds of this term, were never answered.
    let lost = 0;
    while (lost < list.length && isBefore(list[lost]!, m.term, m.readRound)) lost++;
    const answered = list[lost];
    if (answered === undefined || answered.term !== m.term || answered.readRound !== m.readRound) {
      // Nothing listed can be this answer's heartbeat (sent before the list last started over).
      list.splice(0, lost);
      return;
    }
    list.splice(0, lost + 1);
    this.observe(m.from, Math.max(0, nowMs - answered.atMs) / 1000);
  }

  /** Heartbeats to `peer` (every peer: null) may have been lost with a connection: start over. */
  forget(peer: NodeId | null): void {
    if (peer === null) this.unanswered.clear();
    else this.unanswered.delete(peer);
  }
}

function isBefore(h: SentHeartbeat, term: number, readRound: number): boolean {
  return h.term < term || (h.term === term && h.readRound < readRound);
}
