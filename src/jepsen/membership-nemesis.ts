// The membership nemesis: an operator changing the cluster's members while the other faults run.
// It has a schedule of its own (its own PRNG stream, quiet gaps and episodes), so partitions,
// kills and pauses land in the middle of its changes — a removal with the leader cut off, a
// joint phase when a node dies — which is where membership changes go wrong. It holds the slots
// it works on (NodeSet.claim), so the other faults never restart a process it has removed.
//
//   member-replace      the leader half the time, else another node, is killed (kill -9) as if
//                       its disk were gone; it is removed through the other members; a brand-new
//                       member takes its slot (a new id, an empty data dir, `raftkv start --join`)
//                       and is waited for until the leader has promoted it to voter
//   member-shrink-grow  one to a minority of the nodes (the first is the leader half the time)
//                       are removed one after another through the API — a removed node stops on
//                       its own — and the cluster runs smaller for the fault's duration; then
//                       each slot gets a brand-new member that joins and is promoted
//
// Every request is retried through the running members until it is answered or the change
// deadline passes; an episode that cannot finish says what it saw in its timeline entry.

import { fieldOf } from '../client/errors.js';
import { apiRequests } from '../client/index.js';
import type { Prng } from '../random.js';
import { exchange } from './client.js';
import { findLeader, type TimelineEntry } from './nemesis.js';
import type { NodeSet } from './nodes.js';
import { Interruptible, runSchedule } from './schedule.js';
import { TimelineWriter } from './timeline.js';

export interface MembershipNemesisOptions {
  /** How long the cluster runs shrunk in member-shrink-grow. */
  readonly faultMs: readonly [number, number];
  /** Quiet gaps between episodes. */
  readonly gapMs: readonly [number, number];
  /** How long one change (a removal, a join and promotion) may take before the episode gives up. */
  readonly changeMs: number;
  /** How long a removed node gets to stop on its own before it is killed. */
  readonly exitMs: number;
  /** Per request. */
  readonly requestMs: number;
}

type Kind = 'member-replace' | 'member-shrink-grow';
const kinds: readonly Kind[] = ['member-replace', 'member-shrink-grow'];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number): string => (ms / 1000).toFixed(1);

/** A member as GET /cluster/members lists it. */
interface Member {
  readonly id: string;
  readonly role: string;
}

function membersOf(body: unknown): Member[] | null {
  const list = fieldOf(body, 'members');
  if (!Array.isArray(list)) return null;
  const out: Member[] = [];
  for (const m of list) {
    const id = fieldOf(m, 'id');
    const role = fieldOf(m, 'role');
    if (typeof id === 'string' && typeof role === 'string') out.push({ id, role });
  }
  return out;
}

export class MembershipNemesis {
  private readonly waits = new Interruptible();
  private readonly record: TimelineWriter;

  constructor(
    private readonly rng: Prng,
    private readonly nodes: NodeSet,
    private readonly options: MembershipNemesisOptions,
    private readonly now: () => number,
    private readonly log: (line: string) => void,
    /** Shared with the other nemesis, so the report sees every fault on one timeline. */
    timeline: TimelineEntry[],
  ) {
    this.record = new TimelineWriter(timeline, now, log, (e) => `${e.kind} done: ${e.detail}`);
  }

  /** Ends the schedule early: the current wait returns and nothing new starts. */
  stop(): void {
    this.waits.stop();
  }

  /**
   * Runs episodes until `untilMs` (on the run clock) or stop(). An episode started always
   * finishes — every slot it emptied hosts a member again, or its entry says why not — so the
   * cluster the final checks read is whole.
   */
  async run(untilMs: number): Promise<void> {
    await runSchedule(this.waits, this.rng, this.options, this.now, untilMs, kinds, (kind, duration) =>
      kind === 'member-replace' ? this.replace() : this.shrinkGrow(duration),
    );
  }

  /**
   * `count` free running slots, the leader first half the time (the draw is always made), and
   * claims them; fewer if other faults hold the rest.
   */
  private async pick(count: number): Promise<{ slots: number[]; leader: number | null }> {
    const leader = await findLeader(this.nodes);
    const wantLeader = this.rng.next() < 0.5;
    const free = this.rng.shuffle(this.nodes.free().filter((i) => this.nodes.state(i) === 'running'));
    const order =
      wantLeader && leader !== null && free.includes(leader)
        ? [leader, ...free.filter((i) => i !== leader)]
        : free;
    const slots = order.slice(0, count).filter((i) => this.nodes.claim(i));
    return { slots, leader };
  }

  private async replace(): Promise<void> {
    const { slots, leader } = await this.pick(1);
    const slot = slots[0];
    if (slot === undefined) {
      this.log('nemesis: member-replace skipped: another fault holds every running node');
      return;
    }
    const old = this.nodes.name(slot);
    const e = this.record.begin('member-replace', `${old}${slot === leader ? ' (leader)' : ''} killed`);
    try {
      await this.nodes.kill(slot);
      const removed = await this.remove(old, slot, 'others');
      e.detail += `; ${removed.what}`;
      if (!removed.ok) {
        // Still a member as far as anyone could tell: it comes back as it was.
        this.nodes.start(slot);
        e.detail += `; ${old} restarted on its data dir`;
        return;
      }
      e.detail += `; ${await this.join(slot)}`;
    } finally {
      this.nodes.release(slot);
      this.record.end(e);
    }
  }

  private async shrinkGrow(duration: number): Promise<void> {
    const n = this.nodes.count;
    const minority = Math.max(1, Math.floor((n - 1) / 2));
    const want = 1 + this.rng.nextInt(minority);
    const { slots, leader } = await this.pick(want);
    if (slots.length === 0) {
      this.log('nemesis: member-shrink-grow skipped: another fault holds every running node');
      return;
    }
    const names = slots.map((i) => `${this.nodes.name(i)}${i === leader ? ' (leader)' : ''}`);
    const e = this.record.begin(
      'member-shrink-grow',
      `${n} → ${n - slots.length}: remove ${names.join(', ')}`,
    );
    try {
      const out: number[] = [];
      for (const slot of slots) {
        const name = this.nodes.name(slot);
        const removed = await this.remove(name, slot, 'itself-or-others');
        e.detail += `; ${removed.what}`;
        if (!removed.ok) break;
        e.detail += `; ${await this.awaitExit(slot)}`;
        out.push(slot);
        if (this.waits.stopped) break;
      }
      if (out.length > 0) {
        const shrunk = this.now();
        await this.waits.hold(duration);
        e.detail += `; ran with ${n - out.length} members ${secs(this.now() - shrunk)} s`;
      }
      for (const slot of out) e.detail += `; ${await this.join(slot)}`;
      // Slots whose removal was not confirmed are still members, running as they were.
    } finally {
      for (const slot of slots) this.nodes.release(slot);
      this.record.end(e);
    }
  }

  /**
   * Removes member `name` (slot `slot`) with DELETE /cluster/members/{name}, asked of the node
   * itself first when `via` allows it (a leader removing itself hands over and steps down), else
   * of the other running members in turn, until one answers 200, or 404 (gone already: an earlier
   * attempt whose answer was lost committed). A request whose answer is lost is judged by the
   * membership the others report.
   */
  private async remove(
    name: string,
    slot: number,
    via: 'others' | 'itself-or-others',
  ): Promise<{ ok: boolean; what: string }> {
    const started = this.now();
    const until = Date.now() + this.options.changeMs;
    let last = 'no member answered';
    while (Date.now() < until) {
      const askers = this.nodes
        .ids()
        .filter((i) => (i !== slot || via === 'itself-or-others') && this.nodes.state(i) === 'running');
      if (via === 'itself-or-others') askers.sort((a, b) => (a === slot ? -1 : b === slot ? 1 : 0));
      for (const i of askers) {
        const x = await exchange(
          this.nodes.client(i),
          apiRequests.removeMember(name),
          this.options.requestMs,
        );
        if (x.kind === 'answered' && (x.status === 200 || x.status === 404)) {
          return {
            ok: true,
            what: `${name} removed via ${this.nodes.name(i)} in ${secs(this.now() - started)} s`,
          };
        }
        last = `${this.nodes.name(i)}: ${x.kind === 'answered' ? `${x.status} ${String(fieldOf(x.body, 'code'))}` : x.error}`;
        if ((await this.listed(name, slot)) === false) {
          return {
            ok: true,
            what: `${name} removed (seen in the membership) in ${secs(this.now() - started)} s`,
          };
        }
      }
      await sleep(200);
    }
    return { ok: false, what: `${name} NOT removed within ${secs(this.options.changeMs)} s (${last})` };
  }

  /** Whether another running member lists `name` in the committed membership; null if none answers. */
  private async listed(name: string, slot: number): Promise<boolean | null> {
    for (const i of this.nodes.ids()) {
      if (i === slot || this.nodes.state(i) !== 'running') continue;
      const x = await exchange(this.nodes.client(i), apiRequests.members(), this.options.requestMs);
      if (x.kind !== 'answered' || x.status !== 200) continue;
      const members = membersOf(x.body);
      if (members !== null) return members.some((m) => m.id === name);
    }
    return null;
  }

  /** A removed node stops on its own once it learns of its removal; one that cannot hear it is killed. */
  private async awaitExit(slot: number): Promise<string> {
    const name = this.nodes.name(slot);
    const until = Date.now() + this.options.exitMs;
    while (Date.now() < until && this.nodes.state(slot) !== 'dead') await sleep(100);
    if (this.nodes.state(slot) === 'dead') return `${name} stopped on its own`;
    await this.nodes.kill(slot);
    return `${name} did not stop within ${secs(this.options.exitMs)} s (it may not have heard of its removal) and was killed`;
  }

  /** A brand-new member takes slot `slot` (--join) and is waited for until it is a voter. */
  private async join(slot: number): Promise<string> {
    const started = this.now();
    const name = this.nodes.renew(slot);
    this.nodes.start(slot);
    const until = Date.now() + this.options.changeMs;
    let role = 'not listed';
    while (Date.now() < until && !this.waits.stopped) {
      for (const i of this.nodes.ids()) {
        if (this.nodes.state(i) !== 'running') continue;
        const x = await exchange(this.nodes.client(i), apiRequests.members(), this.options.requestMs);
        if (x.kind !== 'answered' || x.status !== 200) continue;
        role = membersOf(x.body)?.find((m) => m.id === name)?.role ?? 'not listed';
        break;
      }
      if (role === 'voter')
        return `${name} joined and was promoted to voter in ${secs(this.now() - started)} s`;
      await sleep(200);
    }
    const state = this.nodes.state(slot) === 'running' ? 'running' : 'not running';
    return `${name} NOT a voter within ${secs(this.options.changeMs)} s (${role}, ${state})`;
  }
}
