// Interaction scripts for the core, after etcd-io/raft's datadriven tests: a plain-text file of
// commands, each followed by `----` and the output it must print — the messages delivered, in
// order, and the state asked for. A reader can follow a thesis rule message by message; a change
// in behaviour shows as a diff. `RAFTKV_REWRITE=1` rewrites the expected output from the actual.
//
// Commands (one per block; `#` lines are comments):
//   cluster ID... [key=value...]   a new cluster; keys are RaftConfig fields (numbers, booleans)
//   campaign ID                    ID's election timer fires now; deliver until quiet
//   tick ID N | tick-all N         N ticks (tick-all delivers after each)
//   propose ID TEXT                a proposal at ID; deliver until quiet
//   read ID CONTEXT                a linearizable read at ID; deliver until quiet
//   isolate ID | heal              cut ID off both ways | restore every link
//   status                         role, term, leader, commit and last index of every node
//   log ID                         ID's durable log
//   reads ID                       the reads released or failed at ID so far

import type { Entry, Mutations, RaftConfig } from '../../src/raft/index.js';
import { describeMessage } from '../sim/trace.js';
import { Cluster } from './harness.js';

export interface Block {
  readonly command: string;
  readonly expected: string;
}

/** Splits a script into its blocks. */
export function parseScript(text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) {
      i++;
      continue;
    }
    if (lines[i + 1]?.trim() !== '----') throw new Error(`line ${i + 2}: expected ---- after "${line}"`);
    const out: string[] = [];
    let j = i + 2;
    while (j < lines.length && lines[j]!.trim() !== '') out.push(lines[j++]!);
    blocks.push({ command: line, expected: out.join('\n') });
    i = j;
  }
  return blocks;
}

/** Prints blocks back as a script (for rewriting), keeping the file's leading comment. */
export function printScript(header: string, blocks: readonly { command: string; actual: string }[]): string {
  return `${header}${blocks.map((b) => `${b.command}\n----\n${b.actual}\n`).join('\n')}`;
}

function entry(e: Entry): string {
  const data = e.type === 'noop' ? 'noop' : JSON.stringify(new TextDecoder().decode(e.data));
  return `${e.index}/t${e.term} ${data}`;
}

function parseValue(v: string): number | boolean | string {
  if (v === 'true') return true;
  if (v === 'false') return false;
  return /^\d+$/.test(v) ? Number(v) : v;
}

/**
 * Runs a script's commands; returns each block's actual output. `mutation` switches one of the
 * core's deliberately broken rules on in every cluster the script builds.
 */
export function runScript(blocks: readonly Block[], mutation?: keyof Mutations): string[] {
  let c: Cluster | null = null;
  const trace: string[] = [];
  const need = (): Cluster => {
    if (c === null) throw new Error('no cluster yet: start with "cluster ID..."');
    return c;
  };
  const settle = (cluster: Cluster): void => {
    cluster.stabilize();
  };
  return blocks.map(({ command }) => {
    const [verb, ...args] = command.split(/\s+/);
    trace.length = 0;
    switch (verb) {
      case 'cluster': {
        const ids = args.filter((a) => !a.includes('='));
        const overrides: Record<string, unknown> = {};
        for (const a of args.filter((x) => x.includes('='))) {
          const [k, v] = a.split('=') as [string, string];
          overrides[k] = parseValue(v);
        }
        if (mutation !== undefined) overrides.mutations = { [mutation]: true };
        c = new Cluster(ids, overrides as Partial<RaftConfig>);
        // Every delivered message is traced (a cut link's are not delivered, so not traced).
        c.drop = (m) => {
          trace.push(describeMessage(m, (entries) => `entries=[${entries.map(entry).join(', ')}]`));
          return false;
        };
        return 'ok';
      }
      case 'campaign':
        need().node(args[0]!).raw.campaign();
        settle(need());
        break;
      case 'tick':
        need().tick(args[0]!, Number(args[1] ?? 1));
        settle(need());
        break;
      case 'tick-all':
        need().tickAll(Number(args[0] ?? 1));
        break;
      case 'propose': {
        const r = need()
          .node(args[0]!)
          .raw.propose(new TextEncoder().encode(args.slice(1).join(' ')));
        settle(need());
        trace.unshift(r.kind === 'accepted' ? `accepted at ${r.index}/t${r.term}` : `rejected: ${r.reason}`);
        break;
      }
      case 'read':
        need().node(args[0]!).raw.readIndex(args[1]!);
        settle(need());
        break;
      case 'isolate':
        need().isolate(args[0]!);
        return 'ok';
      case 'heal':
        need().heal();
        return 'ok';
      case 'status':
        return need()
          .ids.map((id) => {
            const s = need().node(id).raw.status();
            return `${id}: ${s.role} t${s.term} leader=${s.leaderId ?? '-'} commit=${s.commitIndex} last=${s.lastIndex}`;
          })
          .join('\n');
      case 'log': {
        const n = need().node(args[0]!);
        const out: string[] = [];
        for (let i = n.storage.firstIndex(); i <= n.storage.lastIndex(); i++) {
          out.push(entry(n.storage.entries(i, i + 1, Number.MAX_SAFE_INTEGER)[0]!));
        }
        return out.length === 0 ? '(empty)' : out.join('\n');
      }
      case 'reads': {
        const n = need().node(args[0]!);
        const released = n.readStates.map((r) => `${r.context} index=${r.readIndex}`);
        const failed = n.readFailures.map((f) => `${f.context} failed: ${f.reason}`);
        const all = [...released, ...failed];
        return all.length === 0 ? '(none)' : all.join('\n');
      }
      default:
        throw new Error(`unknown command "${command}"`);
    }
    return trace.length === 0 ? '(no messages)' : trace.join('\n');
  });
}
