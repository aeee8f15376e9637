// Goal: every notable event a node logs has a stable name, and its JSON line (`--log-format json`)
// has the fields the catalogue (src/node/log-events.ts) promises, with their types. Real nodes are
// driven through each event — election, snapshot, a peer going down and up, a follower catching up
// by snapshot, a leader change, a member added, promoted and removed, a removed node and a foreign
// data dir refused, a leader's disk stalling — and every line they wrote is checked against the
// catalogue. The core's and storage's sentences are all named (so none logs as `unmapped`), and
// docs/logging.md lists the catalogue as it is.

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { startNode } from '../../src/app/start-node.js';
import { type EventSpec, type FieldSpec, type LogEventName, logEvents } from '../../src/node/log-events.js';
import { bridgedEvent, NodeLogger } from '../../src/node/logger.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { type Answer, request } from '../support/http.js';
import { freePorts, LOOPBACK } from '../support/ports.js';
import { StallingDisk } from '../support/stalling-disk.js';
import { waitFor } from '../support/wait.js';

const catalogue = logEvents as Readonly<Record<string, EventSpec>>;
const srcRoot = new URL('../../../src/', import.meta.url);

type JsonLine = Readonly<Record<string, unknown>>;

/** What is wrong with one JSON log line of node `node`, measured against the catalogue. */
function problemsOf(line: string, node: string): string[] {
  let o: JsonLine;
  try {
    o = JSON.parse(line) as JsonLine;
  } catch {
    return [`not JSON: ${line}`];
  }
  const problems: string[] = [];
  const { time, level, node: nodeId, event, msg, ...fields } = o;
  if (typeof time !== 'string' || Number.isNaN(Date.parse(time))) problems.push('time is not an ISO date');
  if (nodeId !== node) problems.push(`node is ${String(nodeId)}, not ${node}`);
  if (typeof msg !== 'string' || msg === '') problems.push('msg is not a sentence');
  const spec = typeof event === 'string' ? catalogue[event] : undefined;
  if (spec === undefined || event === 'unmapped' || spec.reserved) {
    return [...problems, `event ${String(event)} is not in the catalogue`];
  }
  if (level !== spec.level) problems.push(`level ${String(level)}, the catalogue says ${spec.level}`);
  for (const [name, type] of Object.entries(spec.fields)) {
    if (!(name in fields)) {
      if (!type.endsWith('?')) problems.push(`field ${name} missing`);
    } else if (!hasType(fields[name], type)) {
      problems.push(`field ${name} is ${JSON.stringify(fields[name])}, not ${type}`);
    }
  }
  for (const name of Object.keys(fields)) {
    if (!(name in spec.fields)) problems.push(`field ${name} is not in the catalogue`);
  }
  return problems.map((p) => `${String(event)}: ${p} in ${line}`);
}

function hasType(value: unknown, spec: FieldSpec): boolean {
  return spec
    .replace(/\?$/, '')
    .split('|')
    .some((t) => (t === 'null' ? value === null : typeof value === t));
}

/** The JSON records of `id`'s log (every incarnation) with this event name. */
function events(c: TestCluster, id: string, name: LogEventName): JsonLine[] {
  return c.logs
    .get(id)!
    .map((l) => JSON.parse(l) as JsonLine)
    .filter((o) => o.event === name);
}

async function waitForEvent(
  c: TestCluster,
  id: string,
  name: LogEventName,
  match: (o: JsonLine) => boolean = () => true,
): Promise<JsonLine> {
  return waitFor(`${id} logs ${name}`, () => events(c, id, name).find(match), { timeoutMs: 15_000 });
}

/** Retries while another change, a fresh leader's first commit or an election holds the request back. */
async function accepted(c: TestCluster, id: string, method: string, urlPath: string, body?: unknown) {
  return waitFor(`${method} ${urlPath} accepted`, async (note): Promise<Answer | null> => {
    const r = await request(c.client(id), method, urlPath, body === undefined ? {} : { body });
    note(r.text);
    return r.status === 409 || r.status === 503 ? null : r;
  });
}

test('every notable event is logged by name, in JSON, with the fields the catalogue gives', async (t) => {
  const disks = { n1: new StallingDisk(), n2: new StallingDisk(), n3: new StallingDisk() };
  const c = await startCluster(t, {
    size: 3,
    snapshotEvery: 30,
    snapshotCatchUpEntries: 5,
    logFormat: 'json',
    logLevel: 'debug',
    disks,
  });
  // A stalled disk would hold the cleanup's stop: whatever happens, resume them first.
  t.after(() => {
    for (const d of Object.values(disks)) d.resume();
  });

  // Election.
  const leader = await c.waitForLeader();
  const { term } = await c.debug(leader);
  await waitForEvent(c, leader, 'leader.elected', (o) => o.term === term);

  // Snapshots, then a follower that misses what the leader compacts away catches up by snapshot.
  for (let i = 0; i < 40; i++) assert.equal((await c.putRetrying(leader, `a${i}`, `${i}`)).status, 200);
  await waitForEvent(c, leader, 'snapshot.taken');
  const lagging = c.followerOf(leader);
  await c.stopNode(lagging);
  await waitForEvent(c, leader, 'peer.down', (o) => o.peer === lagging);
  for (let i = 0; i < 60; i++) assert.equal((await c.putRetrying(leader, `b${i}`, `${i}`)).status, 200);
  await c.startNode(lagging);
  await waitForEvent(c, lagging, 'snapshot.installed');
  await waitForEvent(c, leader, 'peer.up', (o) => o.peer === lagging && typeof o.downForMs === 'number');

  // A leader change, on request.
  const moved = await accepted(c, leader, 'POST', '/cluster/leader', { to: lagging });
  assert.equal(moved.status, 200, moved.text);
  await waitForEvent(c, leader, 'leader.lost');
  await waitForEvent(c, lagging, 'leader.elected', (o) => o.term === moved.body.term);

  // A member joins, is promoted, is removed; its data dir then refuses to start.
  await c.joinNode('n4');
  const added = await accepted(c, lagging, 'POST', '/cluster/members', {
    id: 'n4',
    address: c.address('n4'),
  });
  assert.equal(added.status, 200, added.text);
  const promoted = await waitForEvent(c, lagging, 'membership.promoted', (o) => o.member === 'n4');
  assert.equal(promoted.level, 'info');
  const removed = await accepted(c, lagging, 'DELETE', '/cluster/members/n4');
  assert.equal(removed.status, 200, removed.text);
  await waitForEvent(c, 'n4', 'membership.removed');
  await c.node('n4')?.stopped;
  await c.stopNode('n4');
  await assert.rejects(c.startNode('n4'), /was removed from the cluster/);
  const refusedRemoved = events(c, 'n4', 'datadir.refused').at(-1);
  assert.equal(refusedRemoved?.cause, 'removed');
  assert.equal(refusedRemoved?.dataDir, c.dataDir('n4'));

  // Another node's data dir (n4's) is refused too: it belongs to another node of another cluster.
  const intruderLines: string[] = [];
  const [port] = await freePorts(1, LOOPBACK);
  await assert.rejects(
    startNode({
      id: 'intruder',
      cluster: { intruder: { host: LOOPBACK, port: port! } },
      dataDir: c.dataDir('n4'),
      logFormat: 'json',
      logSink: (l) => intruderLines.push(l),
    }),
    /refusing to start/,
  );
  const refusedForeign = intruderLines
    .map((l) => JSON.parse(l) as JsonLine)
    .find((o) => o.event === 'datadir.refused');
  assert.equal(refusedForeign?.cause, 'identity', intruderLines.join('\n'));

  // The leader's disk stalls: its guard hands leadership over.
  const stalled = await c.waitForLeader();
  const disk = disks[stalled as keyof typeof disks];
  disk.stall();
  const stuck = c.put(stalled, 'stalled', 'write').catch(() => null);
  const stall = await waitForEvent(c, stalled, 'disk.stall');
  assert.ok(c.ids.includes(String(stall.to)) && stall.to !== stalled, `handed to a member: ${stall.to}`);
  disk.resume();
  await stuck;
  await c.waitForLeader();
  await c.stopAll();

  // Every line every node wrote is a catalogue event in its documented form.
  const problems = c.ids.flatMap((id) => c.logs.get(id)!.flatMap((l) => problemsOf(l, id)));
  problems.push(...intruderLines.flatMap((l) => problemsOf(l, 'intruder')));
  assert.deepEqual(problems, []);
  const seen = new Set(c.ids.flatMap((id) => c.logs.get(id)!.map((l) => (JSON.parse(l) as JsonLine).event)));
  const expected: LogEventName[] = [
    'node.starting',
    'node.listening',
    'node.stopping',
    'node.draining',
    'node.stopped',
    'storage.bootstrapped',
    'election.started',
    'vote.granted',
    'leader.elected',
    'leader.lost',
    'leader.transfer_started',
    'leader.transfer_campaign',
    'membership.change_appended',
    'membership.changed',
    'membership.promoting',
    'membership.promoted',
    'membership.removed',
    'peer.up',
    'peer.down',
    'snapshot.taken',
    'snapshot.sending',
    'snapshot.installing',
    'snapshot.installed',
    'datadir.refused',
    'disk.stall',
  ];
  assert.deepEqual(
    expected.filter((e) => !seen.has(e)),
    [],
    'events provoked but not seen',
  );
});

test('the text format leads with the sentence and names the event; JSON carries both', () => {
  const text: string[] = [];
  const json: string[] = [];
  const textLog = new NodeLogger('n1', 'text', 'info', (l) => text.push(l));
  const jsonLog = new NodeLogger('n1', 'json', 'info', (l) => json.push(l));
  for (const log of [textLog, jsonLog]) {
    log.log('info', 'became leader', { node: 'n1', term: 3, lastIndex: 7 });
    log.emit('peer.down', { peer: 'n2', reason: 'connect ECONNREFUSED' });
    log.log('debug', 'granted vote', { node: 'n1', term: 3, to: 'n2', canVote: true, upToDate: true });
  }
  assert.equal(text.length, 2, 'below the minimum level nothing is written');
  assert.match(text[0]!, /^\S+ INFO {2}n1 became leader event=leader\.elected term=3 lastIndex=7$/);
  assert.match(
    text[1]!,
    /^\S+ WARN {2}n1 peer unreachable event=peer\.down peer=n2 reason="connect ECONNREFUSED"$/,
  );
  const [elected, down] = json.map((l) => JSON.parse(l) as JsonLine);
  assert.deepEqual(
    { ...elected, time: undefined },
    {
      time: undefined,
      level: 'info',
      node: 'n1',
      event: 'leader.elected',
      msg: 'became leader',
      term: 3,
      lastIndex: 7,
    },
  );
  assert.equal(down?.event, 'peer.down');
  assert.equal(down?.reason, 'connect ECONNREFUSED');
});

test('sentences with a varying part are named by pattern, their parts as fields', () => {
  assert.deepEqual(bridgedEvent('ignored AppendEntries: stale term'), {
    event: 'message.ignored',
    captured: { type: 'AppendEntries', reason: 'stale term' },
  });
  assert.deepEqual(bridgedEvent('ignored PreVote: this node is the leader'), {
    event: 'message.unexpected',
    captured: { type: 'PreVote' },
  });
  assert.deepEqual(bridgedEvent('snapshot removed'), {
    event: 'snapshot.discarded',
    captured: { action: 'removed' },
  });
  assert.equal(bridgedEvent('something new').event, 'unmapped');
});

// --- the catalogue against the source ----------------------------------------------------------

async function sourceFiles(dir: URL): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return Promise.all(entries.filter((f) => f.endsWith('.ts')).map((f) => readFile(new URL(f, dir), 'utf8')));
}

/** A value for each varying part of a logged template sentence, to name it by. */
const templateSamples: Readonly<Record<string, readonly string[]>> = {
  'm.type': ['AppendEntries', 'RequestVote'],
  'd.action': ['quarantined', 'removed'],
};

/**
 * The sentences the core and storage log: the string and template literals of the second
 * argument of each `emit('level', …)` / `logger.log('level', …)` call (a conditional gives two).
 */
function loggedSentences(source: string): string[] {
  const out: string[] = [];
  for (const call of source.matchAll(/\b(?:emit|log)\(\s*'(?:debug|info|warn|error)',\s*/g)) {
    let i = call.index + call[0].length;
    let depth = 0;
    for (; i < source.length; i++) {
      const ch = source[i]!;
      if (ch === "'" || ch === '`') {
        const end = literalEnd(source, i);
        const body = source.slice(i + 1, end);
        out.push(...(ch === "'" ? [body] : expandTemplate(body)));
        i = end;
      } else if (ch === '(' || ch === '[') depth++;
      else if ((ch === ')' || ch === ']') && depth > 0) depth--;
      else if ((ch === ',' || ch === ')') && depth === 0) break;
    }
  }
  return out;
}

function literalEnd(source: string, start: number): number {
  const quote = source[start];
  let braces = 0;
  for (let i = start + 1; i < source.length; i++) {
    const ch = source[i];
    if (ch === '\\') i++;
    else if (quote === '`' && ch === '{' && source[i - 1] === '$') braces++;
    else if (quote === '`' && ch === '}' && braces > 0) braces--;
    else if (ch === quote && braces === 0) return i;
  }
  throw new Error(`unterminated literal at ${start}`);
}

function expandTemplate(body: string): string[] {
  const parts = [...body.matchAll(/\$\{([^}]*)\}/g)];
  let sentences = [body];
  for (const [whole, expr] of parts) {
    const samples = templateSamples[expr!];
    assert.ok(samples, `add sample values for \${${expr}} (logged as \`${body}\`)`);
    sentences = sentences.flatMap((s) => samples.map((v) => s.replace(whole, v)));
  }
  return sentences;
}

test('every sentence the core and storage log is named in the catalogue', async () => {
  const sources = [
    ...(await sourceFiles(new URL('raft/', srcRoot))),
    ...(await sourceFiles(new URL('storage/', srcRoot))),
  ];
  const sentences = sources.flatMap(loggedSentences);
  assert.ok(sentences.length >= 25, `found the logged sentences (${sentences.length})`);
  const unnamed = sentences.filter((s) => bridgedEvent(s).event === 'unmapped');
  assert.deepEqual(unnamed, [], 'sentences without an event in src/node/log-events.ts');
  // And the other way round: no bridged event waits for a sentence nobody logs.
  const named = new Set(sentences.map((s) => bridgedEvent(s).event));
  const stale = Object.entries(catalogue)
    .filter(([name, spec]) => spec.from !== 'node' && name !== 'unmapped' && !named.has(name as LogEventName))
    .map(([name]) => name);
  assert.deepEqual(stale, [], 'catalogue events of the core or storage that nothing logs');
});

test("every event of the node's own is logged somewhere, except the reserved ones", async () => {
  const sources = (await Promise.all(['node/', 'app/'].map((d) => sourceFiles(new URL(d, srcRoot))))).flat();
  const emitted = new Set(sources.flatMap((s) => [...s.matchAll(/\bemit\('([a-z_.]+)'/g)].map((m) => m[1])));
  for (const [name, spec] of Object.entries(catalogue)) {
    if (spec.from !== 'node') continue;
    assert.equal(
      emitted.has(name),
      !spec.reserved,
      `${name} ${spec.reserved ? 'is reserved' : 'is emitted'}`,
    );
  }
});

// --- the catalogue against its documentation ---------------------------------------------------

/** The row docs/logging.md has for an event. */
function docRow(name: string, spec: EventSpec): string {
  const fields = Object.entries(spec.fields)
    .map(([f, type]) => `\`${f}\` ${type.replace('|', ' or ').replace(/\?$/, ' (optional)')}`)
    .join(', ');
  const name_ = spec.reserved ? `\`${name}\` (reserved)` : `\`${name}\``;
  return `| ${name_} | ${spec.level} | ${spec.msg} | ${fields || '—'} | ${spec.doc} |`;
}

test('docs/logging.md lists every event with its level, sentence, fields and meaning', async () => {
  const doc = await readFile(new URL('../../../docs/logging.md', import.meta.url), 'utf8');
  const rows = doc.split('\n').filter((l) => l.startsWith('| `'));
  const want = Object.entries(catalogue).map(([name, spec]) => docRow(name, spec));
  const missing = want.filter((r) => !rows.includes(r));
  assert.deepEqual(missing, [], 'rows to put in docs/logging.md (as they are)');
  assert.equal(rows.length, want.length, 'no rows for events the catalogue does not have');
});
