// Faults, scheduled from the seed. The run alternates quiet gaps and faults; each fault is held
// for a while and then healed, and everything is healed at the end. Which fault comes next, how
// long it lasts and whom it hits come from the nemesis PRNG; faults that target "the leader" ask
// the cluster who leads at that moment.
//
// Families (the --nemesis names) and their faults:
//   partition  partition-halves   random split into a minority and a majority
//              partition-leader   the current leader (plus others, still a minority) cut off
//              partition-bridge   two halves that cannot talk, and one node that sees both
//              partition-one-way  one node stops receiving from the rest but can still send (or
//                                 the reverse): an asymmetric drop
//   kill       kill-random        kill -9 a random node, restart it when the fault heals
//              kill-leader        kill -9 the leader, restart it when the fault heals
//              kill-rolling       kill -9 and restart every node in turn
//   pause      pause-random       SIGSTOP a random node, SIGCONT when the fault heals
//              pause-leader       SIGSTOP the leader: when it wakes it must neither commit nor
//                                 serve a stale read
//   pause-isolate
//              pause-isolate-leader
//                                 SIGSTOP the leader and cut it off from its peers (not from the
//                                 clients) at once; wait until another node leads and has applied
//                                 new writes; SIGCONT it while it is still cut off and keep it so
//                                 for at least a few election timeouts, while clients keep sending
//                                 it reads; then heal. Nothing from the new leader can reach it, so
//                                 only its own clock can tell it that its lease ran out while it was
//                                 stopped: aimed at --read-mode lease, where a lease measured in
//                                 ticks a stopped process never received served stale reads
//   restart    restart-random     graceful stop (SIGTERM) and restart of a random node
//              restart-rolling    graceful restart of every node in turn
//   membership member-replace     (its own schedule, beside the others: membership-nemesis.ts)
//              member-shrink-grow
//   disk       disk-full          (needs --small-disk) fill the tmpfs of a node, the leader or a
//                                 follower, until its free space is below the node's
//                                 --min-free-bytes, leaving it room (the free-disk guard must see
//                                 the disk low before the WAL hits ENOSPC); wait until every node
//                                 has applied its no-space alarm; hold it while the clients keep
//                                 writing (growing writes get 507 no_space, definite); delete the
//                                 filler and wait until the alarm has cleared everywhere

import { fieldOf } from '../client/errors.js';
import { apiRequests } from '../client/index.js';
import type { Prng } from '../random.js';
import { exchange } from './client.js';
import type { SmallDisks } from './disks.js';
import type { Network } from './netns.js';
import type { NodeSet } from './nodes.js';
import { Interruptible, runSchedule } from './schedule.js';
import {
  type DiskEpisode,
  type Family,
  type FaultKind,
  families,
  type TimelineEntry,
  TimelineWriter,
} from './timeline.js';

// The fault vocabulary lives with the timeline (timeline.ts); importers of the nemesis find it here too.
export {
  type DiskEpisode,
  type Family,
  type FaultKind,
  families,
  isFamily,
  type TimelineEntry,
} from './timeline.js';

export interface NemesisOptions {
  readonly families: readonly Family[];
  /** Faults last between these many milliseconds. */
  readonly faultMs: readonly [number, number];
  /** Quiet gaps between faults. */
  readonly gapMs: readonly [number, number];
  /**
   * Half of the pauses last this long instead: longer than an election, shorter than the client
   * timeout, so requests queued at a paused leader are answered after it wakes, while the client
   * still waits, and a stale answer would show in the history.
   */
  readonly shortPauseMs: readonly [number, number];
  /**
   * pause-isolate-leader keeps the woken old leader cut off from its peers for at least this long
   * (a few election timeouts): long enough that its lease, as its own clock measured it, would
   * have run out several times over, and that many client reads reach it meanwhile.
   */
  readonly isolatedWakeMs: number;
  /**
   * pause-isolate-leader waits at most this long for a leader at the start, and for another node
   * to lead and apply new writes while the old leader is stopped.
   */
  readonly takeoverMs: number;
  /**
   * disk-full waits at most this long for the alarm to be applied everywhere after the fill, and
   * to be cleared everywhere after the filler is removed.
   */
  readonly alarmWaitMs: number;
}

/**
 * Entries a new leader must have applied beyond the old leader's whole log before the old one is
 * woken: its no-op plus at least this many client writes, acknowledged once applied, so that a
 * read of the old state after the wake is a stale read and not merely a concurrent one.
 */
const takeoverEntries = 5;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number): string => (ms / 1000).toFixed(1);

/** The fields of a node's /debug answer the nemesis and the runner look at. */
export interface DebugView {
  readonly state: string;
  readonly term: number;
  readonly lastApplied: number;
  /** The index of the node's last log entry. */
  readonly logLength: number;
  readonly readMode: string;
  /** The nodes whose no-space alarm this node has applied (docs/space.md). */
  readonly alarms: readonly string[];
}

/** Node i's /debug, or null if it is not running or does not answer in time. */
export async function debugOf(nodes: NodeSet, i: number, timeoutMs = 500): Promise<DebugView | null> {
  if (nodes.state(i) !== 'running') return null;
  const x = await exchange(nodes.client(i), apiRequests.status(), timeoutMs);
  if (x.kind !== 'answered' || x.status !== 200) return null;
  const state = fieldOf(x.body, 'state');
  const term = fieldOf(x.body, 'term');
  const lastApplied = fieldOf(x.body, 'lastApplied');
  const logLength = fieldOf(x.body, 'logLength');
  const readMode = fieldOf(x.body, 'readMode');
  if (typeof state !== 'string' || typeof term !== 'number') return null;
  if (typeof lastApplied !== 'number' || typeof logLength !== 'number') return null;
  // A build from before the space rules has no `space`: no alarms.
  const alarms = fieldOf(fieldOf(x.body, 'space'), 'alarms');
  return {
    state,
    term,
    lastApplied,
    logLength,
    readMode: typeof readMode === 'string' ? readMode : '',
    alarms: Array.isArray(alarms) ? alarms.filter((a): a is string => typeof a === 'string') : [],
  };
}

/** Among `which`, the node that leads in the highest term, with its /debug, or null. */
async function leaderAmong(
  nodes: NodeSet,
  which: readonly number[],
): Promise<{ readonly node: number; readonly view: DebugView } | null> {
  const answers = await Promise.all(
    which.map(async (node) => {
      const view = await debugOf(nodes, node);
      return view?.state === 'leader' ? { node, view } : null;
    }),
  );
  let best: { node: number; view: DebugView } | null = null;
  for (const a of answers) if (a && (!best || a.view.term > best.view.term)) best = a;
  return best;
}

/** The node that leads in the highest term any reachable node reports, or null. */
export async function findLeader(nodes: NodeSet): Promise<number | null> {
  return (await leaderAmong(nodes, nodes.ids()))?.node ?? null;
}

/** Resolves once every running node answers /health with 200, or after `timeoutMs`. */
export async function waitHealthy(
  nodes: NodeSet,
  which: readonly number[],
  timeoutMs: number,
): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (which.every((i) => nodes.state(i) === 'dead')) return false;
    const ok = await Promise.all(
      which.map(async (i) => {
        const x = await exchange(nodes.client(i), apiRequests.health(), 500);
        return x.kind === 'answered' && x.status === 200;
      }),
    );
    if (ok.every(Boolean)) return true;
    await sleep(100);
  }
  return false;
}

export class Nemesis {
  readonly timeline: TimelineEntry[] = [];
  private readonly kinds: FaultKind[];
  private readonly waits = new Interruptible();
  private readonly record: TimelineWriter;

  constructor(
    private readonly rng: Prng,
    private readonly net: Network,
    private readonly nodes: NodeSet,
    private readonly options: NemesisOptions,
    private readonly now: () => number,
    private readonly log: (line: string) => void,
    /** The nodes' small file systems (--small-disk), for disk-full; null without them. */
    private readonly disks: SmallDisks | null = null,
  ) {
    // Membership changes run beside these faults, on their own schedule (membership-nemesis.ts).
    this.kinds = options.families.filter((f) => f !== 'membership').flatMap((f) => [...families[f]]);
    this.record = new TimelineWriter(this.timeline, now, log, (e) => `healed ${e.kind}`);
  }

  /** Ends the schedule early: the current wait returns and nothing new starts. */
  stop(): void {
    this.waits.stop();
  }

  private hold(ms: number): Promise<void> {
    return this.waits.hold(ms);
  }

  private get stopped(): boolean {
    return this.waits.stopped;
  }

  /** Runs faults until `untilMs` (on the run clock) or stop(); leaves the cluster healed. */
  async run(untilMs: number): Promise<void> {
    if (this.kinds.length === 0) {
      await this.hold(Math.max(0, untilMs - this.now()));
      return;
    }
    await runSchedule(this.waits, this.rng, this.options, this.now, untilMs, this.kinds, (kind, duration) =>
      this.fault(kind, duration),
    );
  }

  /**
   * Asks `probe` every 100 ms until it answers (non-null), `timeoutMs` has passed or stop() was
   * called; returns the last answer.
   */
  private async poll<T>(probe: () => Promise<T | null>, timeoutMs: number): Promise<T | null> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const answer = await probe();
      if (answer !== null || this.stopped || Date.now() >= until) return answer;
      await sleep(100);
    }
  }

  private names(list: readonly number[]): string {
    return list.map((i) => this.nodes.name(i)).join(',');
  }

  /**
   * The leader if it is among `candidates`, else one of them at random; null if there are none.
   * Faults on a process choose among the slots no other fault holds (the membership nemesis may
   * be replacing one); with every slot free the draws are what they always were.
   */
  private async leaderOrRandom(
    candidates: readonly number[] = this.nodes.ids(),
  ): Promise<{ node: number; leader: boolean } | null> {
    const leader = await findLeader(this.nodes);
    if (leader !== null && candidates.includes(leader)) return { node: leader, leader: true };
    if (candidates.length === 0) return null;
    return { node: this.rng.pick(candidates), leader: false };
  }

  /** A node no other fault holds: the leader if `leader` and it is free, else one at random. */
  private processTarget(leader: boolean): Promise<{ node: number; leader: boolean } | null> {
    const free = this.nodes.free();
    if (leader) return this.leaderOrRandom(free);
    return Promise.resolve(free.length > 0 ? { node: this.rng.pick(free), leader: false } : null);
  }

  /** Runs `f` holding the slots `nodes`, so no other fault touches its process meanwhile. */
  private async holding<T>(nodes: readonly number[], f: () => Promise<T>): Promise<T> {
    const held = nodes.filter((i) => this.nodes.claim(i));
    try {
      return await f();
    } finally {
      for (const i of held) this.nodes.release(i);
    }
  }

  private skip(kind: FaultKind, why: string): void {
    this.log(`nemesis: ${kind} skipped: ${why}`);
  }

  private async fault(kind: FaultKind, duration: number): Promise<void> {
    const ids = this.nodes.ids();
    const n = ids.length;
    const minority = Math.floor((n - 1) / 2);
    switch (kind) {
      case 'partition-halves': {
        const order = this.rng.shuffle(ids);
        const small = order.slice(0, Math.max(1, Math.floor(n / 2)));
        const big = order.slice(small.length);
        const e = this.record.begin(kind, `${this.names(small)} | ${this.names(big)}`);
        this.net.cut(small, big);
        await this.hold(duration);
        this.net.heal();
        this.record.end(e);
        return;
      }
      case 'partition-leader': {
        const { node, leader } = (await this.leaderOrRandom())!;
        const others = this.rng.shuffle(ids.filter((i) => i !== node));
        const small = [node, ...others.slice(0, Math.max(0, minority - 1))];
        const big = ids.filter((i) => !small.includes(i));
        const e = this.record.begin(
          kind,
          `${this.names(small)}${leader ? ' (leader side)' : ''} | ${this.names(big)}`,
        );
        this.net.cut(small, big);
        await this.hold(duration);
        this.net.heal();
        this.record.end(e);
        return;
      }
      case 'partition-bridge': {
        const order = this.rng.shuffle(ids);
        const bridge = order[0]!;
        const rest = order.slice(1);
        const a = rest.slice(0, Math.floor(rest.length / 2));
        const b = rest.slice(a.length);
        const e = this.record.begin(
          kind,
          `${this.names(a)} | ${this.names(b)}, bridge ${this.nodes.name(bridge)}`,
        );
        this.net.cut(a, b);
        await this.hold(duration);
        this.net.heal();
        this.record.end(e);
        return;
      }
      case 'partition-one-way': {
        const { node } =
          this.rng.next() < 0.5 ? (await this.leaderOrRandom())! : { node: this.rng.pick(ids) };
        const others = ids.filter((i) => i !== node);
        const deaf = this.rng.next() < 0.5;
        const e = this.record.begin(
          kind,
          deaf
            ? `${this.nodes.name(node)} hears nobody (its own packets still go out)`
            : `nobody hears ${this.nodes.name(node)} (it still receives)`,
        );
        for (const o of others) {
          if (deaf) this.net.block(o, node);
          else this.net.block(node, o);
        }
        await this.hold(duration);
        this.net.heal();
        this.record.end(e);
        return;
      }
      case 'kill-random':
      case 'kill-leader': {
        const target = await this.processTarget(kind === 'kill-leader');
        if (target === null) return this.skip(kind, 'another fault holds every node');
        await this.holding([target.node], async () => {
          const e = this.record.begin(
            kind,
            `${this.nodes.name(target.node)}${target.leader ? ' (leader)' : ''}`,
          );
          await this.nodes.kill(target.node);
          await this.hold(duration);
          this.nodes.start(target.node);
          this.record.end(e);
        });
        return;
      }
      case 'kill-rolling':
      case 'restart-rolling': {
        const order = this.rng.shuffle(this.nodes.free());
        if (order.length === 0) return this.skip(kind, 'another fault holds every node');
        await this.holding(order, async () => {
          const e = this.record.begin(kind, `order ${this.names(order)}`);
          const per = Math.max(1000, duration / n);
          for (const i of order) {
            if (kind === 'kill-rolling') await this.nodes.kill(i);
            else await this.nodes.stop(i);
            await sleep(Math.min(1000, per / 3));
            this.nodes.start(i);
            await waitHealthy(this.nodes, [i], per);
            if (this.stopped) break;
          }
          this.record.end(e);
        });
        return;
      }
      case 'pause-random':
      case 'pause-leader': {
        const target = await this.processTarget(kind === 'pause-leader');
        if (target === null) return this.skip(kind, 'another fault holds every node');
        await this.holding([target.node], () => this.pause(kind, target, duration));
        return;
      }
      case 'pause-isolate-leader':
        await this.pauseIsolateLeader(duration);
        return;
      case 'disk-full':
        await this.diskFull(duration);
        return;
      case 'restart-random': {
        const free = this.nodes.free();
        if (free.length === 0) return this.skip(kind, 'another fault holds every node');
        const node = this.rng.pick(free);
        await this.holding([node], async () => {
          const e = this.record.begin(kind, this.nodes.name(node));
          await this.nodes.stop(node);
          await this.hold(Math.min(duration, 1000));
          this.nodes.start(node);
          this.record.end(e);
        });
        return;
      }
      case 'member-replace':
      case 'member-shrink-grow':
        // Drawn by the membership nemesis's own schedule only.
        return;
    }
  }

  private async pause(
    kind: 'pause-random' | 'pause-leader',
    target: { readonly node: number; readonly leader: boolean },
    duration: number,
  ): Promise<void> {
    const [sLo, sHi] = this.options.shortPauseMs;
    const pauseMs = this.rng.next() < 0.5 ? this.rng.between(sLo, sHi) : duration;
    const e = this.record.begin(
      kind,
      `${this.nodes.name(target.node)}${target.leader ? ' (leader)' : ''} for ${(pauseMs / 1000).toFixed(1)} s`,
    );
    this.nodes.pause(target.node);
    await this.hold(pauseMs);
    this.nodes.resume(target.node);
    this.record.end(e);
  }

  /**
   * pause-isolate-leader (see the header comment). The fault lasts `duration` in all, but the old
   * leader sleeps exactly until another node has taken over, and is then awake and cut off for at
   * least `isolatedWakeMs`.
   */
  private async pauseIsolateLeader(duration: number): Promise<void> {
    const { takeoverMs } = this.options;
    const ids = this.nodes.ids();
    // Only a leader holds a lease, so unlike the other leader faults this one does not fall back
    // to a random node. Its /debug, read just before the stop, says how far its log reached.
    const old = await this.poll(() => leaderAmong(this.nodes, ids), takeoverMs);
    if (old === null) {
      this.log(`nemesis: pause-isolate-leader skipped: no leader within ${secs(takeoverMs)} s`);
      return;
    }
    if (!this.nodes.claim(old.node))
      return this.skip('pause-isolate-leader', 'another fault holds the leader');
    try {
      await this.isolateLeader(old, duration);
    } finally {
      this.nodes.release(old.node);
    }
  }

  private async isolateLeader(
    old: { readonly node: number; readonly view: DebugView },
    duration: number,
  ): Promise<void> {
    const { takeoverMs, isolatedWakeMs } = this.options;
    const ids = this.nodes.ids();
    const name = this.nodes.name(old.node);
    const peers = ids.filter((i) => i !== old.node);
    const e = this.record.begin(
      'pause-isolate-leader',
      `${name} (leader, term ${old.view.term}) stopped and cut off from ${this.names(peers)}`,
    );
    // Stopped in the same synchronous step that opens the fault, so any read sent from e.start on
    // can only be answered after the wake (the report counts those), and before the cut, which
    // is a few iptables commands: a leader still running while they go in could notice its
    // followers falling silent. The runner's own address is never blocked (netns.ts), so clients
    // keep reaching it, and their requests queue while it sleeps.
    this.nodes.pause(old.node);
    this.net.cut([old.node], peers);
    // Another node leads (in a later term, since the old leader led this one) and has applied its
    // no-op and some client writes beyond the old leader's whole log: acknowledged writes the
    // old leader has not seen, so a read it answers from its old state is stale, not concurrent.
    const need = old.view.logLength + 1 + takeoverEntries;
    const next = await this.poll(async () => {
      const l = await leaderAmong(this.nodes, peers);
      return l !== null && l.view.term > old.view.term && l.view.lastApplied >= need ? l : null;
    }, takeoverMs);
    const slept = this.now() - e.start;
    e.detail +=
      next === null
        ? `; no other node led and applied new writes within ${secs(takeoverMs)} s`
        : `; ${this.nodes.name(next.node)} led term ${next.view.term} and applied ` +
          `${next.view.lastApplied - old.view.logLength} entries past ${name}'s log after ${secs(slept)} s`;
    this.nodes.resume(old.node);
    e.woken = { node: old.node, at: this.now(), until: Number.NaN };
    this.log(`nemesis: woke ${name} after ${secs(slept)} s, still cut off from its peers`);
    const awake = Math.max(isolatedWakeMs, duration - slept);
    await this.hold(awake);
    e.woken.until = this.now();
    e.detail += `; woken, cut off ${secs(e.woken.until - e.woken.at)} s more`;
    this.net.heal();
    this.record.end(e);
  }

  /**
   * disk-full (see the header comment): the alarm is held for `duration` once it is seen
   * everywhere; the fill before and the clearing after come on top.
   */
  private async diskFull(duration: number): Promise<void> {
    const disks = this.disks;
    if (disks === null) throw new Error('the disk nemesis needs --small-disk');
    const ids = this.nodes.ids();
    const leader = await findLeader(this.nodes);
    // Half of the time the leader, else a follower: a follower's alarm goes to the leader through
    // POST /admin/alarms, the leader's straight into its log. Both draws are always made, so the
    // rest of the schedule does not depend on who led.
    const wantLeader = this.rng.next() < 0.5;
    const followers = ids.filter((i) => i !== leader && this.nodes.state(i) === 'running');
    const follower = followers.length > 0 ? this.rng.pick(followers) : null;
    const node = (wantLeader && leader !== null) || follower === null ? (leader ?? ids[0]!) : follower;
    if (!this.nodes.claim(node))
      return this.skip('disk-full', `another fault holds ${this.nodes.name(node)}`);
    try {
      await this.fillDisk(disks, node, leader, duration);
    } finally {
      this.nodes.release(node);
    }
  }

  private async fillDisk(
    disks: SmallDisks,
    node: number,
    leader: number | null,
    duration: number,
  ): Promise<void> {
    const ids = this.nodes.ids();
    const name = this.nodes.name(node);
    const e = this.record.begin('disk-full', `${name} (${node === leader ? 'leader' : 'follower'})`);
    const exitsBefore = this.nodes.unexpectedExits().length;
    const { alarmWaitMs } = this.options;
    // Half of the threshold left free: low enough for the guard, and room for what the node
    // writes until the alarm is applied, about a second (its WAL grows by about 1 MB a second
    // two minutes into a run, the set's buckets being rewritten whole; 8 MiB with 64 MiB disks).
    const freeAfterFill = await disks.fill(node, Math.floor(disks.minFreeBytes / 2));
    const d: DiskEpisode = {
      node,
      leader: node === leader,
      minFreeBytes: disks.minFreeBytes,
      freeAfterFill,
      filledAt: this.now(),
      raisedAt: Number.NaN,
      freedAt: Number.NaN,
      clearedAt: Number.NaN,
      stopped: [],
    };
    e.disk = d;
    const mib = (b: number): string => (b / 1024 / 1024).toFixed(1);
    e.detail += `, filled to ${mib(freeAfterFill)} MiB free (threshold ${mib(d.minFreeBytes)} MiB)`;
    // Every running node has applied the alarm (raised) or has none from this node (cleared).
    const everywhere = (raised: boolean) => async (): Promise<true | null> => {
      const running = ids.filter((i) => this.nodes.state(i) === 'running');
      const views = await Promise.all(running.map((i) => debugOf(this.nodes, i)));
      return views.every((v) => v !== null && v.alarms.includes(name) === raised) ? true : null;
    };
    if ((await this.poll(everywhere(true), alarmWaitMs)) !== null) {
      d.raisedAt = this.now();
      e.detail += `; alarm applied everywhere after ${secs(d.raisedAt - d.filledAt)} s`;
      this.log(`nemesis: ${name}'s no-space alarm applied on every node; holding it ${secs(duration)} s`);
      await this.hold(duration);
    } else {
      e.detail += `; alarm NOT applied everywhere within ${secs(alarmWaitMs)} s`;
    }
    await disks.unfill(node);
    d.freedAt = this.now();
    if ((await this.poll(everywhere(false), alarmWaitMs)) !== null) {
      d.clearedAt = this.now();
      if (!Number.isNaN(d.raisedAt)) e.detail += `, up ${secs(d.clearedAt - d.raisedAt)} s`;
      e.detail += `; cleared everywhere ${secs(d.clearedAt - d.freedAt)} s after the filler went`;
    } else {
      e.detail += `; filler removed, alarm NOT cleared everywhere within ${secs(alarmWaitMs)} s`;
    }
    d.stopped.push(...this.nodes.unexpectedExits().slice(exitsBefore));
    this.record.end(e);
  }

  /** Heals everything: no blocks, no paused or dead nodes, no filler. */
  healAll(): void {
    const e: TimelineEntry = { kind: 'heal-all', start: this.now(), end: Number.NaN, detail: '' };
    this.net.heal();
    this.disks?.unfillAllSync();
    for (const i of this.nodes.ids()) {
      if (this.nodes.state(i) === 'paused') this.nodes.resume(i);
      if (this.nodes.state(i) === 'dead') this.nodes.start(i);
    }
    e.end = this.now();
    this.timeline.push(e);
  }
}
