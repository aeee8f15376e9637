// The gauges that mirror what the core and the state machine already hold (term, commit index,
// leader, keys, members, ...): set from one reading of the node per scrape, never on the write
// path. The first of them is registered with the collect() that takes the reading and sets them
// all (prom-client collects metrics in registration order; its own event-loop metrics use the
// same pattern), so they must be created before any other metric of the registry.

import { Gauge, type Registry } from 'prom-client';
import type { NodeReading } from '../api/metrics.js';

export class StateGauges {
  private readonly hasLeader: Gauge;
  private readonly isLeader: Gauge;
  private readonly isLearner: Gauge;
  private readonly term: Gauge;
  private readonly commitIndex: Gauge;
  private readonly appliedIndex: Gauge;
  private readonly pending: Gauge;
  private readonly keys: Gauge;
  private readonly leases: Gauge;
  private readonly noSpace: Gauge;
  private readonly stateBytes: Gauge;
  private readonly quotaBytes: Gauge;
  private readonly watchers: Gauge;
  private readonly members: Gauge<'role'>;
  private readonly followerLag: Gauge<'peer'>;

  /** `collect` runs first at every scrape: it should read the node and call set(). */
  constructor(registry: Registry, collect: () => void) {
    const registers = [registry];
    const gauge = (name: string, help: string): Gauge => new Gauge({ name, help, registers });
    this.hasLeader = new Gauge({
      name: 'raftkv_has_leader',
      help: '1 if this node knows a leader, else 0.',
      registers,
      collect,
    });
    this.isLeader = gauge('raftkv_is_leader', '1 if this node is the leader, else 0.');
    this.isLearner = gauge('raftkv_is_learner', '1 if this node is a learner (a member that does not vote).');
    this.term = gauge('raftkv_term', 'The current term.');
    this.commitIndex = gauge('raftkv_commit_index', 'The highest log index this node knows committed.');
    this.appliedIndex = gauge('raftkv_applied_index', 'The highest log index applied to the state machine.');
    this.pending = gauge('raftkv_proposals_pending', 'Proposals made on this node that wait to be applied.');
    this.keys = gauge('raftkv_keys', 'Keys in the state machine.');
    this.leases = gauge(
      'raftkv_leases',
      'Leases in the state machine (granted, not yet revoked or expired).',
    );
    this.noSpace = gauge(
      'raftkv_no_space',
      '1 while a no-space alarm is raised: growing writes are refused.',
    );
    this.stateBytes = gauge('raftkv_state_bytes', 'Size of the replicated state, as the quota counts it.');
    this.quotaBytes = gauge('raftkv_quota_bytes', 'The quota on the replicated state (0: none).');
    this.watchers = gauge('raftkv_watchers', 'Watches (GET /watch) open on this node.');
    this.members = new Gauge({
      name: 'raftkv_members',
      help: 'Members of the configuration in force, by role (voter, learner).',
      labelNames: ['role'],
      registers,
    });
    this.followerLag = new Gauge({
      name: 'raftkv_follower_lag_entries',
      help: "Leader only: entries of the leader's log each follower does not hold yet.",
      labelNames: ['peer'],
      registers,
    });
  }

  set(r: NodeReading): void {
    this.hasLeader.set(r.leaderKnown ? 1 : 0);
    this.isLeader.set(r.isLeader ? 1 : 0);
    this.isLearner.set(r.isLearner ? 1 : 0);
    this.term.set(r.term);
    this.commitIndex.set(r.commitIndex);
    this.appliedIndex.set(r.appliedIndex);
    this.pending.set(r.pendingProposals);
    this.keys.set(r.keys);
    this.leases.set(r.leases);
    this.noSpace.set(r.noSpace ? 1 : 0);
    this.stateBytes.set(r.stateBytes);
    this.quotaBytes.set(r.quotaBytes ?? 0);
    this.watchers.set(r.watchers.open);
    this.members.labels('voter').set(r.voters);
    this.members.labels('learner').set(r.learners);
    // Only the followers a leader has now: a follower node, or a peer that left, has no series.
    this.followerLag.reset();
    for (const [peer, lag] of r.followerLag) this.followerLag.labels(peer).set(lag);
  }
}
