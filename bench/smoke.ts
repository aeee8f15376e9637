// A short performance smoke, to run before merging a change on the hot path: raftkv's puts (to the
// leader) and linearizable gets (spread over the members), each as a ratio to a no-consensus
// baseline measured in the same run — a plain node:http server holding the keys in a Map, loaded
// by the same generator — so that most of the machine's own speed and noise cancels out. It fails
// (exit 1) when a ratio falls more than --tolerance below the reference in
// bench/smoke-reference.json, which holds the ratios of a known-good tree on the machine it names
// (write a new one with --write-reference after a deliberate change, or on another machine).
//
// Every process and temp dir it starts is removed at the end, by PID, also on failure or SIGINT.
//
// Run: npm run bench:smoke   (builds first), or after a build:
//      node dist/bench/smoke.js [--seconds 8] [--clients 16] [--rounds 2] [--tolerance 0.25]
//                               [--write-reference]

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ProcessCluster } from '../test/support/process-cluster.js';
import {
  type BenchJson,
  endpointOf,
  log,
  type Member,
  Reaper,
  raftkvLeader,
  runLinearizable,
} from './common.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    clients: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '2' },
    tolerance: { type: 'string', default: '0.25' },
    'write-reference': { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const rounds = Number(values.rounds);
const tolerance = Number(values.tolerance);
if (
  ![seconds, clients, rounds].every((n) => Number.isInteger(n) && n > 0) ||
  !(tolerance > 0 && tolerance < 1)
) {
  process.stderr.write(
    'usage: node dist/bench/smoke.js [--seconds 8] [--clients 16] [--rounds 2] [--tolerance 0.25] [--write-reference]\n',
  );
  process.exit(2);
}

const referenceFile = fileURLToPath(new URL('../../bench/smoke-reference.json', import.meta.url));
const data = { keySize: 16, valueSize: 256, keyspace: 10_000 };
const reaper = new Reaper();

/** The stand-in with no consensus and no disk: the HTTP API's shape over a Map. */
const baselineServer = `
const http = require('node:http');
const store = new Map();
let index = 0;
const server = http.createServer({ keepAlive: true }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let status = 200, body;
    if (req.method === 'POST' && req.url === '/kv') {
      const { key, value } = JSON.parse(Buffer.concat(chunks).toString());
      store.set(key, value);
      body = { key, value, index: ++index };
    } else if (req.method === 'GET' && req.url.startsWith('/kv/')) {
      const key = decodeURIComponent(req.url.slice(4).split('?')[0]);
      const value = store.get(key) ?? null;
      if (value === null) status = 404;
      body = { key, value, index };
    } else { status = 404; body = { error: 'no route' }; }
    const payload = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    res.end(payload);
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

async function startBaseline(): Promise<string> {
  const child = spawn(process.execPath, ['-e', baselineServer], { stdio: ['ignore', 'pipe', 'inherit'] });
  reaper.children.add(child);
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').once('data', (d: string) => resolve(d.trim()));
    child.once('exit', (code) => reject(new Error(`the baseline server exited (${code})`)));
  });
  return `127.0.0.1:${port}`;
}

interface Sample {
  readonly put: number;
  readonly get: number;
}

async function measure(putTo: string[], getFrom: string[]): Promise<Sample> {
  const ms = seconds * 1000;
  const run = (endpoints: string[], op: 'put' | 'get'): Promise<BenchJson> =>
    runLinearizable(reaper, { ...data, target: 'raftkv', endpoints, op, clients, durationMs: ms });
  const put = await run(putTo, 'put');
  const get = await run(getFrom, 'get');
  for (const [name, r] of [
    ['put', put],
    ['get', get],
  ] as const) {
    const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
    if (errors > r.requests * 0.01) throw new Error(`${name}: ${errors} errors of ${r.requests} requests`);
  }
  return { put: put.throughput, get: get.throughput };
}

async function main(): Promise<number> {
  const baseline = await startBaseline();
  log(`baseline (node:http over a Map): ${baseline}`);
  const cluster = await ProcessCluster.create(reaper, { size: 3, timing: {} });
  reaper.clusters.add(cluster);
  const members = (): Member[] =>
    cluster.ids.map((id) => ({ name: id, endpoint: endpointOf(cluster, id), pid: cluster.node(id).pid }));
  await cluster.waitForLeader(cluster.ids, 30_000);
  const leader = await raftkvLeader(members);
  const all = members().map((m) => m.endpoint);
  log(`raftkv: 3 nodes, leader ${leader}; ${rounds} round(s) of ${seconds} s per case at ${clients} clients`);
  // Both systems hold the keys the gets read (a warm-up of the same length, not reported).
  await measure([baseline], [baseline]);
  await measure([leader], all);
  const baselineRuns: Sample[] = [];
  const raftkvRuns: Sample[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternated, so drifting background load falls on both.
    const b = await measure([baseline], [baseline]);
    const k = await measure([await raftkvLeader(members)], all);
    baselineRuns.push(b);
    raftkvRuns.push(k);
    log(
      `round ${r + 1}: raftkv put ${Math.round(k.put)}/s, get ${Math.round(k.get)}/s; baseline put ${Math.round(b.put)}/s, get ${Math.round(b.get)}/s`,
    );
  }
  // Each side's best round (noise only ever slows a case down), then the ratio.
  const bestOf = (runs: Sample[], op: keyof Sample): number => Math.max(...runs.map((x) => x[op]));
  const best = {
    put: bestOf(raftkvRuns, 'put') / bestOf(baselineRuns, 'put'),
    get: bestOf(raftkvRuns, 'get') / bestOf(baselineRuns, 'get'),
  };
  if (values['write-reference']) {
    const reference = {
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
      clients,
      seconds,
      put: Number(best.put.toFixed(4)),
      get: Number(best.get.toFixed(4)),
    };
    writeFileSync(referenceFile, `${JSON.stringify(reference, null, 2)}\n`);
    log(`reference written: ${referenceFile}`);
    return 0;
  }
  const reference = JSON.parse(readFileSync(referenceFile, 'utf8')) as Sample & { machine: string };
  let failed = false;
  for (const op of ['put', 'get'] as const) {
    const floor = reference[op] * (1 - tolerance);
    const ok = best[op] >= floor;
    failed ||= !ok;
    log(
      `${op}: ratio ${best[op].toFixed(3)}, reference ${reference[op].toFixed(3)} (${reference.machine}), ` +
        `floor ${floor.toFixed(3)}: ${ok ? 'ok' : 'REGRESSION'}`,
    );
  }
  return failed ? 1 : 0;
}

main()
  .then(
    (code) => code,
    (e: unknown) => {
      process.stderr.write(`bench:smoke: ${e instanceof Error ? e.message : String(e)}\n`);
      return 2;
    },
  )
  .then(async (code) => {
    await reaper.cleanup();
    process.exit(code);
  });
