// Goal: the simulated replicated state machine — a tiny deterministic key/value register map —
// and its command encoding. Every write carries a value used nowhere else, so a read's result
// names exactly one write. A running hash chained over every applied entry turns "no two nodes
// apply different entries at the same index" (State Machine Safety, thesis §3.6.3) into an O(1)
// comparison per entry, and lets a snapshot's content be checked against what others applied.

import { decodeMembership, type Entry, type Membership } from '../../src/raft/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface PutCommand {
  readonly key: string;
  readonly value: string;
}

export function encodePut(key: string, value: string): Uint8Array {
  return encoder.encode(`put ${key} ${value}`);
}

export function decodePut(data: Uint8Array): PutCommand | null {
  if (data.byteLength === 0) return null;
  const parts = decoder.decode(data).split(' ');
  if (parts.length !== 3 || parts[0] !== 'put') return null;
  return { key: parts[1]!, value: parts[2]! };
}

/** voters, then (while joint) the outgoing voters, then learners: "n1,n2,n3 & n1,n2 +n4". */
export function describeMembership(m: Membership): string {
  let out = m.voters.join(',');
  if (m.outgoingVoters.length > 0) out += ` & ${m.outgoingVoters.join(',')}`;
  if (m.learners.length > 0) out += ` +${m.learners.join(',+')}`;
  return out;
}

/** Human-readable entry content for traces and error messages. */
export function describeEntry(e: Pick<Entry, 'index' | 'term' | 'type' | 'data'>): string {
  if (e.type === 'noop') return `${e.index}/t${e.term} noop`;
  if (e.type === 'config') {
    try {
      return `${e.index}/t${e.term} config(${describeMembership(decodeMembership(e.data))})`;
    } catch {
      return `${e.index}/t${e.term} config(<undecodable ${e.data.byteLength} bytes>)`;
    }
  }
  const cmd = decodePut(e.data);
  return `${e.index}/t${e.term} ${cmd ? `${cmd.key}=${cmd.value}` : `<${e.data.byteLength} bytes>`}`;
}

/** FNV-1a over 32-bit words and bytes; collisions are irrelevant at simulation scale. */
function mix(h: number, word: number): number {
  let x = h;
  for (let s = 0; s < 32; s += 8) {
    x ^= (word >>> s) & 0xff;
    x = Math.imul(x, 0x01000193);
  }
  return x >>> 0;
}

export function chainHash(prev: number, e: Pick<Entry, 'index' | 'term' | 'type' | 'data'>): number {
  let h = mix(prev ^ 0x811c9dc5, e.index);
  h = mix(h, e.term);
  h = mix(h, e.type === 'noop' ? 1 : 2);
  for (let i = 0; i < e.data.byteLength; i++) {
    h ^= e.data[i]!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export interface StoredValue {
  readonly value: string;
  /** Log index of the write that stored it: lets a read's result be placed in the log order. */
  readonly index: number;
}

interface SnapshotBody {
  readonly applied: number;
  readonly chain: number;
  readonly kv: [string, string, number][];
}

export class KvStateMachine {
  applied = 0;
  /** Hash of every entry applied so far, in order (including those folded into a snapshot). */
  chain = 0;
  private readonly kv = new Map<string, StoredValue>();

  /** The driver checks the index order before calling; this only updates the state. */
  apply(e: Entry): void {
    this.applied = e.index;
    this.chain = chainHash(this.chain, e);
    if (e.type !== 'command') return;
    const cmd = decodePut(e.data);
    if (cmd) this.kv.set(cmd.key, { value: cmd.value, index: e.index });
  }

  get(key: string): StoredValue | undefined {
    return this.kv.get(key);
  }

  serialize(): Uint8Array {
    const body: SnapshotBody = {
      applied: this.applied,
      chain: this.chain,
      kv: [...this.kv].map(([k, v]) => [k, v.value, v.index]),
    };
    return encoder.encode(JSON.stringify(body));
  }

  /** Rebuilds the state a snapshot captured; empty data means "nothing applied yet". */
  static restore(data: Uint8Array): KvStateMachine {
    const sm = new KvStateMachine();
    if (data.byteLength === 0) return sm;
    const body = JSON.parse(decoder.decode(data)) as SnapshotBody;
    sm.applied = body.applied;
    sm.chain = body.chain;
    for (const [k, value, index] of body.kv) sm.kv.set(k, { value, index });
    return sm;
  }
}
