// Codec micro-benchmark: encode and decode throughput of the byte formats on the hot paths — peer
// messages (AppendEntries with a batch of entries, a single entry, heartbeats and their
// responses, each framed as the transport sends it), WAL entry records, and kv commands. Runs each
// case for a fixed time, several rounds, and prints the best and median rate. Not part of the
// tests; single-threaded, so run it on an otherwise idle core for stable numbers.
//
// Run: npm run build && node dist/bench/codec.js [--ms 400] [--rounds 7] [--filter text]

import { parseArgs } from 'node:util';
import { decodeCommand, encodeCommand } from '../src/kv/command.js';
import type { Entry, Message } from '../src/raft/types.js';
import { readFrame } from '../src/storage/frame.js';
import { decodeWalRecord, encodeWalRecords, type WalRecord } from '../src/storage/wal-record.js';
import { decodeMessage } from '../src/transport/codec.js';
import { encodeMessageFrame, FRAME_HEADER_BYTES } from '../src/transport/framing.js';

const { values: args } = parseArgs({
  options: {
    ms: { type: 'string', default: '400' },
    rounds: { type: 'string', default: '7' },
    filter: { type: 'string', default: '' },
  },
});
const caseMs = Number(args.ms);
const rounds = Number(args.rounds);

function entries(n: number, dataBytes: number, firstIndex: number): Entry[] {
  const out: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const data = new Uint8Array(dataBytes);
    for (let j = 0; j < dataBytes; j++) data[j] = (i * 31 + j) & 0xff;
    out.push({ term: 7, index: firstIndex + i, type: 'command', data });
  }
  return out;
}

function appendEntries(batch: Entry[]): Message {
  const first = batch[0]!.index;
  return {
    type: 'AppendEntries',
    from: 'n1',
    to: 'n2',
    term: 7,
    prevLogIndex: first - 1,
    prevLogTerm: 7,
    leaderCommit: first - 1,
    entries: batch,
  };
}

const messages: Record<string, Message> = {
  'AppendEntries 64×128 B': appendEntries(entries(64, 128, 1_000_000)),
  'AppendEntries 1×128 B': appendEntries(entries(1, 128, 1_000_000)),
  Heartbeat: { type: 'Heartbeat', from: 'n1', to: 'n2', term: 7, leaderCommit: 1_000_000, readRound: 12345 },
  AppendEntriesResponse: {
    type: 'AppendEntriesResponse',
    from: 'n2',
    to: 'n1',
    term: 7,
    success: true,
    matchIndex: 1_000_064,
    rejectedIndex: 0,
    hintIndex: 0,
    hintTerm: 0,
  },
};

let sink = 0;

interface Case {
  readonly name: string;
  /** Work per call, for the throughput column. */
  readonly bytes: number;
  readonly run: () => void;
}

const cases: Case[] = [];
for (const [name, m] of Object.entries(messages)) {
  const frame = encodeMessageFrame(m);
  const payload = frame.subarray(FRAME_HEADER_BYTES);
  cases.push({
    name: `wire encode ${name}`,
    bytes: frame.length,
    run: () => (sink += encodeMessageFrame(m).length),
  });
  cases.push({
    name: `wire decode ${name}`,
    bytes: payload.length,
    run: () => (sink += decodeMessage(payload).term),
  });
}

const walBatch: WalRecord[] = entries(64, 128, 1_000_000).map((entry) => ({ kind: 'entry', entry }));
const walBytes = encodeWalRecords(walBatch);
cases.push({
  name: 'WAL encode 64×128 B entries',
  bytes: walBytes.length,
  run: () => (sink += encodeWalRecords(walBatch).length),
});
cases.push({
  name: 'WAL decode 64×128 B entries',
  bytes: walBytes.length,
  run: () => {
    for (let off = 0; off < walBytes.length; ) {
      const f = readFrame(walBytes, off);
      if (!f.ok) throw new Error(f.problem);
      sink += decodeWalRecord(f.payload).kind.length;
      off = f.end;
    }
  },
});

const put = { op: 'put', key: 'user/0000012345', value: 'v'.repeat(100), idempotencyKey: 'req-1' } as const;
const putBytes = encodeCommand(put);
cases.push({
  name: 'kv encode put 16 B key, 100 B value',
  bytes: putBytes.length,
  run: () => (sink += encodeCommand(put).length),
});
cases.push({
  name: 'kv decode put 16 B key, 100 B value',
  bytes: putBytes.length,
  run: () => (sink += decodeCommand(putBytes).op.length),
});

/** Calls per second over about `ms` milliseconds. */
function rate(c: Case, ms: number): number {
  let calls = 0;
  let batch = 16;
  const start = process.hrtime.bigint();
  const until = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < until) {
    for (let i = 0; i < batch; i++) c.run();
    calls += batch;
    if (batch < 4096) batch *= 2;
    now = process.hrtime.bigint();
  }
  return calls / (Number(now - start) / 1e9);
}

const selected = cases.filter((c) => c.name.includes(args.filter));
for (const c of selected) rate(c, 100); // warm up every case before measuring any
const results = new Map<Case, number[]>(selected.map((c) => [c, []]));
for (let r = 0; r < rounds; r++) {
  // Interleaved rounds, so a noisy moment on a shared machine hits every case a little.
  for (const c of selected) results.get(c)!.push(rate(c, caseMs));
}
const width = Math.max(...selected.map((c) => c.name.length));
console.log(
  `${'case'.padEnd(width)}  ${'best ops/s'.padStart(12)}  ${'median ops/s'.padStart(12)}  ${'MB/s'.padStart(8)}`,
);
for (const [c, rs] of results) {
  rs.sort((a, b) => a - b);
  const best = rs[rs.length - 1]!;
  const median = rs[Math.floor(rs.length / 2)]!;
  const mbs = (median * c.bytes) / 1e6;
  console.log(
    `${c.name.padEnd(width)}  ${Math.round(best).toLocaleString('en').padStart(12)}  ${Math.round(median).toLocaleString('en').padStart(12)}  ${mbs.toFixed(0).padStart(8)}`,
  );
}
if (sink === 0.5) console.log(sink);
