// Interaction scripts for the core, after etcd-io/raft's datadriven tests: a plain-text file of
// commands, each followed by `----` and the output it must print — the messages delivered, in
// order, and the state asked for. A reader can follow a thesis rule message by message; a change
// in behaviour shows as a diff. `RAFTKV_REWRITE=1` rewrites the expected output from the actual.
//
// Commands (one per block; `#` lines are comments). Every command that makes something happen
// then delivers messages until the cluster is quiet and prints each message sent meanwhile:
//   cluster ID... [key=value...]   a new cluster; keys are RaftConfig fields (numbers, booleans),
//                                  and seed=N seeds the nodes' election timeouts (default 1)
//   campaign ID                    ID's election timer fires now
//   tick ID [N] | tick-all [N]     N ticks of ID's clock | of every clock, delivering after each
//   propose ID TEXT                a proposal at ID (prints where it was accepted, or why not)
//   read ID CONTEXT                a linearizable read at ID
//   transfer FROM TO               FROM, the leader, hands leadership to TO (§3.10)
//   restart ID                     ID crashes and restarts from what its storage holds
//   compact ID INDEX               ID's state machine takes a snapshot at INDEX (≤ applied) and
//                                  drops the log up to it
// Membership (chapter 4):
//   add-node ID                    a brand-new node with an empty log joins the network; it knows
//                                  no membership until a leader's log or snapshot tells it
//   change LEADER (add-learner ID | add-voter ID | promote ID | remove ID)...
//                                  asks LEADER to make the changes, atomically (prints the result)
//   members ID                     the membership in force at ID (the log's latest configuration)
// The network. A message on a cut link vanishes without a line; one removed by a `drop` rule is
// printed with "(dropped)"; one for a held node with "(held)", and again when it is delivered:
//   isolate ID                     cut ID off both ways
//   partition A B | C ...          cut every link between the groups (and only those)
//   cut FROM TO                    cut the one-way link FROM -> TO
//   drop FROM TYPE                 every TYPE message FROM sends is lost
//   heal                           restore every link and remove every drop rule
//   hold ID                        messages to ID wait, as if ID were slow
//   deliver ID                     deliver what waits for ID (what is sent to it next waits again)
//   release ID                     stop holding ID and deliver what waits for it
// Held messages on a link that gets cut, or to a node that restarts, are lost.
// What a node holds (these print state, not messages):
//   status                         role, term, leader, commit and last index of every node
//   progress ID                    the leader ID's view of each follower: state, match, next,
//                                  heard from since the last CheckQuorum round (§6.2) or not
//   log ID                         ID's durable log (its snapshot first, if it has one)
//   applied ID                     the entries ID's state machine applied (after the snapshot it
//                                  was restored from, if any)
//   reads ID                       the reads released or failed at ID so far

import {
  decodeMembership,
  defaultRaftConfig,
  type Entry,
  type MemberChange,
  type Message,
  type Mutations,
  type NodeId,
  type RaftConfig,
} from '../../src/raft/index.js';
import { describeMembership } from '../sim/kv.js';
import { describeMessage } from '../sim/trace.js';
import { Cluster, type TestNode } from './harness.js';

export interface Block {
  /** The comment and blank lines before the command, kept as written. */
  readonly before: string;
  readonly command: string;
  readonly expected: string;
}

/** Splits a script into its blocks. */
export function parseScript(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let before: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) {
      before.push(lines[i++]!);
      continue;
    }
    if (lines[i + 1]?.trim() !== '----') throw new Error(`line ${i + 2}: expected ---- after "${line}"`);
    const out: string[] = [];
    let j = i + 2;
    while (j < lines.length && lines[j]!.trim() !== '') out.push(lines[j++]!);
    blocks.push({ before: before.map((l) => `${l}\n`).join(''), command: line, expected: out.join('\n') });
    before = [];
    i = j;
  }
  if (before.some((l) => l.trim() !== '')) throw new Error('comment after the last command');
  return blocks;
}

/** Prints blocks back as a script with their actual output (for rewriting), comments kept. */
export function printScript(blocks: readonly (Block & { readonly actual: string })[]): string {
  return blocks.map((b) => `${b.before}${b.command}\n----\n${b.actual}\n`).join('');
}

function entry(e: Entry): string {
  if (e.type === 'config')
    return `${e.index}/t${e.term} config(${describeMembership(decodeMembership(e.data))})`;
  const data = e.type === 'noop' ? 'noop' : JSON.stringify(new TextDecoder().decode(e.data));
  return `${e.index}/t${e.term} ${data}`;
}

function parseChanges(words: readonly string[]): MemberChange[] {
  const changes: MemberChange[] = [];
  for (let i = 0; i < words.length; i += 2) {
    const [verb, id] = [words[i], words[i + 1]];
    if (id === undefined) throw new ScriptError(`change: "${verb ?? ''}" needs a node id`);
    const address = `${id}.addr`;
    if (verb === 'add-learner') changes.push({ kind: 'addLearner', id, address });
    else if (verb === 'add-voter') changes.push({ kind: 'addVoter', id, address });
    else if (verb === 'promote') changes.push({ kind: 'promote', id });
    else if (verb === 'remove') changes.push({ kind: 'remove', id });
    else throw new ScriptError(`change: unknown change "${verb ?? ''}"`);
  }
  return changes;
}

function parseValue(v: string): number | boolean | string {
  if (v === 'true') return true;
  if (v === 'false') return false;
  return /^\d+$/.test(v) ? Number(v) : v;
}

/** A mistake in the script itself (not in the core): it is thrown, never printed as output. */
export class ScriptError extends Error {
  override readonly name = 'ScriptError';
}

/**
 * Runs a script's commands; returns each block's actual output. `mutation` switches one of the
 * core's deliberately broken rules on in every cluster the script builds. An error thrown by the
 * core (a failed assertion) is printed as the block's output, `error: ...`, and the script goes on.
 */
export function runScript(blocks: readonly Block[], mutation?: keyof Mutations): string[] {
  const run = new Run(mutation);
  return blocks.map(({ command }) => {
    try {
      return run.command(command);
    } catch (err) {
      if (err instanceof ScriptError || !(err instanceof Error)) throw err;
      return `error: ${err.message}`;
    }
  });
}

/** The state of one script run: the cluster and the network rules the script has set. */
class Run {
  private cluster: Cluster | null = null;
  /** What the current command delivered, dropped or held, in order. */
  private readonly trace: string[] = [];
  /** `drop FROM TYPE` rules, as "FROM TYPE". */
  private readonly dropRules = new Set<string>();
  /** Nodes whose incoming messages wait (`hold`). */
  private readonly holding = new Set<NodeId>();
  /** Messages waiting for their held receiver, in send order. */
  private held: Message[] = [];
  /** Held messages `deliver` is letting through. */
  private readonly passing = new Set<Message>();

  constructor(private readonly mutation: keyof Mutations | undefined) {}

  private get c(): Cluster {
    if (this.cluster === null) throw new ScriptError('no cluster yet: start with "cluster ID..."');
    return this.cluster;
  }

  private node(id: string | undefined): TestNode {
    if (id === undefined || !this.c.nodes.has(id)) throw new ScriptError(`no node "${id ?? ''}"`);
    return this.c.node(id);
  }

  /** Deliver until quiet; returns the trace of what happened to every message sent meanwhile. */
  private settle(): string {
    this.c.stabilize();
    return this.traced();
  }

  private traced(): string {
    return this.trace.length === 0 ? '(no messages)' : this.trace.join('\n');
  }

  /** Every message that leaves a node and is not on a cut link passes here (the harness's hook). */
  private route(m: Message): boolean {
    const line = describeMessage(m, (entries) => `entries=[${entries.map(entry).join(', ')}]`);
    if (this.passing.delete(m)) {
      this.trace.push(line);
      return false;
    }
    if (this.dropRules.has(`${m.from} ${m.type}`)) {
      this.trace.push(`${line} (dropped)`);
      return true;
    }
    if (this.holding.has(m.to)) {
      this.held.push(m);
      this.trace.push(`${line} (held)`);
      return true;
    }
    this.trace.push(line);
    return false;
  }

  /** Held messages on links that are now cut are lost, as messages in flight on a broken link. */
  private loseHeldOnCutLinks(): void {
    this.held = this.held.filter((m) => !this.c.cut.has(`${m.from}->${m.to}`));
  }

  /** Lets the messages held for `id` through, then delivers until quiet. */
  private deliverHeld(id: NodeId): string {
    const now = this.held.filter((m) => m.to === id);
    this.held = this.held.filter((m) => m.to !== id);
    for (const m of now) this.passing.add(m);
    this.c.queue.push(...now);
    return this.settle();
  }

  command(command: string): string {
    const [verb, ...args] = command.split(/\s+/);
    this.trace.length = 0;
    switch (verb) {
      case 'cluster': {
        const ids = args.filter((a) => !a.includes('='));
        const overrides: Record<string, unknown> = {};
        let seed = 1;
        for (const a of args.filter((x) => x.includes('='))) {
          const [k, v] = a.split('=') as [string, string];
          if (k === 'seed') {
            seed = Number(v);
            continue;
          }
          // A misspelt (or renamed) field would silently leave the default in force.
          if (!(k in defaultRaftConfig)) throw new ScriptError(`"${k}" is not a RaftConfig field`);
          overrides[k] = parseValue(v);
        }
        if (this.mutation !== undefined) overrides.mutations = { [this.mutation]: true };
        this.cluster = new Cluster(ids, overrides as Partial<RaftConfig>, seed);
        this.dropRules.clear();
        this.holding.clear();
        this.held = [];
        // Messages on a cut link never reach this hook (the harness drops them first), so they
        // vanish from the trace; every other message is printed as delivered, dropped or held.
        this.cluster.drop = (m) => this.route(m);
        return 'ok';
      }
      case 'campaign':
        this.node(args[0]).raw.campaign();
        return this.settle();
      case 'tick': {
        const n = this.node(args[0]);
        for (let i = 0; i < Number(args[1] ?? 1); i++) {
          n.raw.tick();
          this.c.stabilize();
        }
        return this.traced();
      }
      case 'tick-all':
        this.c.tickAll(Number(args[0] ?? 1));
        return this.traced();
      case 'propose': {
        const r = this.node(args[0]).raw.propose(new TextEncoder().encode(args.slice(1).join(' ')));
        const out = this.settle();
        const result = r.kind === 'accepted' ? `accepted at ${r.index}/t${r.term}` : `rejected: ${r.reason}`;
        return out === '(no messages)' ? result : `${result}\n${out}`;
      }
      case 'read':
        // `read NODE CONTEXT [lease]`: the read asks for the leader lease (§6.4.1).
        this.node(args[0]).raw.readIndex(args[1] ?? '', args[2] === 'lease' ? 'lease' : undefined);
        return this.settle();
      case 'transfer': {
        const to = this.node(args[1]).id;
        const r = this.node(args[0]).raw.transferLeadership(to);
        const out = this.settle();
        const result = r.kind === 'started' ? 'started' : `rejected: ${r.reason}`;
        return out === '(no messages)' ? result : `${result}\n${out}`;
      }
      case 'restart': {
        const n = this.node(args[0]);
        // A crash: what was not on disk is gone, and so are the messages on their way to it.
        this.held = this.held.filter((m) => m.to !== n.id);
        this.c.start(n.id, n.storage, n.storage.firstIndex() - 1);
        return this.settle();
      }
      case 'compact': {
        const n = this.node(args[0]);
        const index = Number(args[1]);
        if (!(index <= n.raw.status().lastApplied)) {
          throw new ScriptError(`compact ${n.id} ${args[1]}: only applied entries can be compacted`);
        }
        n.storage.createSnapshot({
          meta: { index, term: n.storage.term(index) ?? 0, membership: n.raw.membershipAt(index) },
          data: new TextEncoder().encode(`snapshot@${index}`),
        });
        return 'ok';
      }
      case 'add-node': {
        const id = args[0];
        if (id === undefined || this.c.nodes.has(id))
          throw new ScriptError(`add-node: "${id ?? ''}" is taken`);
        this.c.addNode(id);
        return 'ok';
      }
      case 'change': {
        const r = this.node(args[0]).raw.proposeMembership(parseChanges(args.slice(1)));
        const out = this.settle();
        const result =
          r.kind === 'accepted'
            ? `accepted at ${r.index}/t${r.term}: ${describeMembership(r.membership)}`
            : r.kind === 'rejected'
              ? `rejected: ${r.reason}`
              : `refused: ${Object.values(r.refusal).join(' ')}`;
        return out === '(no messages)' ? result : `${result}\n${out}`;
      }
      case 'members': {
        const s = this.node(args[0]).raw.status();
        const m = s.membership;
        return m.voters.length + m.learners.length === 0
          ? '(none known)'
          : `${describeMembership(m)} (index ${s.membershipIndex})`;
      }
      case 'isolate':
        this.c.isolate(this.node(args[0]).id);
        this.loseHeldOnCutLinks();
        return 'ok';
      case 'partition': {
        const groups = args
          .join(' ')
          .split('|')
          .map((g) => g.trim().split(/\s+/).filter(Boolean));
        for (const id of groups.flat()) this.node(id);
        this.c.heal();
        for (const a of groups)
          for (const b of groups)
            if (a !== b) for (const x of a) for (const y of b) this.c.cut.add(`${x}->${y}`);
        this.loseHeldOnCutLinks();
        return 'ok';
      }
      case 'cut':
        this.c.cut.add(`${this.node(args[0]).id}->${this.node(args[1]).id}`);
        this.loseHeldOnCutLinks();
        return 'ok';
      case 'drop':
        if (args.length !== 2) throw new ScriptError('usage: drop FROM TYPE');
        this.dropRules.add(`${this.node(args[0]).id} ${args[1]}`);
        return 'ok';
      case 'heal':
        this.c.heal();
        this.dropRules.clear();
        return 'ok';
      case 'hold':
        this.holding.add(this.node(args[0]).id);
        return 'ok';
      case 'deliver':
        return this.deliverHeld(this.node(args[0]).id);
      case 'release': {
        const id = this.node(args[0]).id;
        this.holding.delete(id);
        return this.deliverHeld(id);
      }
      case 'status':
        return this.c.ids
          .map((id) => {
            const s = this.c.node(id).raw.status();
            return `${id}: ${s.role} t${s.term} leader=${s.leaderId ?? '-'} commit=${s.commitIndex} last=${s.lastIndex}`;
          })
          .join('\n');
      case 'progress': {
        const s = this.node(args[0]).raw.status();
        if (s.progress === null) return `${s.id} is not leader`;
        return Object.entries(s.progress)
          .filter(([id]) => id !== s.id)
          .map(
            ([id, p]) =>
              `${id}: ${p.state} match=${p.match} next=${p.next} ${p.recentActive ? 'active' : 'inactive'}`,
          )
          .join('\n');
      }
      case 'log': {
        const n = this.node(args[0]);
        const out: string[] = [];
        const snap = n.storage.snapshot().meta;
        if (snap.index > 0) out.push(`snapshot ${snap.index}/t${snap.term}`);
        for (let i = n.storage.firstIndex(); i <= n.storage.lastIndex(); i++) {
          out.push(entry(n.storage.entries(i, i + 1, Number.MAX_SAFE_INTEGER)[0]!));
        }
        return out.length === 0 ? '(empty)' : out.join('\n');
      }
      case 'applied': {
        const n = this.node(args[0]);
        const out = n.applied.map(entry);
        // A state machine restored from a snapshot (installed or read at restart) starts after it.
        const snap = n.storage.snapshot().meta;
        const first = n.applied[0]?.index ?? n.raw.status().lastApplied + 1;
        if (snap.index > 0 && snap.index === first - 1) out.unshift(`snapshot ${snap.index}/t${snap.term}`);
        return out.length === 0 ? '(none)' : out.join('\n');
      }
      case 'reads': {
        const n = this.node(args[0]);
        const released = n.readStates.map((r) => `${r.context} index=${r.readIndex}`);
        const failed = n.readFailures.map((f) => `${f.context} failed: ${f.reason}`);
        const all = [...released, ...failed];
        return all.length === 0 ? '(none)' : all.join('\n');
      }
      default:
        throw new ScriptError(`unknown command "${command}"`);
    }
  }
}
