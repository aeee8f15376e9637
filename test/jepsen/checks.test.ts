// The runner's own bookkeeping, without root: the set check, availability, the no_space counts.
// (Its seeded PRNG is the project's one, tested in test/random.test.ts.)

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KvOp } from '../../src/check/index.js';
import { definiteFailure, describeAnswer } from '../../src/jepsen/client.js';
import type { TimelineEntry } from '../../src/jepsen/nemesis.js';
import type { RecordedOp } from '../../src/jepsen/recorder.js';
import {
  availability,
  countOutcomes,
  noSpaceAnswer,
  noSpaceAnswers,
  wokenReads,
} from '../../src/jepsen/report.js';
import { type SetAdd, SetWorkload } from '../../src/jepsen/workloads.js';

function workloadWith(adds: readonly Pick<SetAdd, 'element' | 'bucket' | 'outcome'>[]): SetWorkload {
  const w = new SetWorkload({ buckets: 2, staleReads: false, timeoutMs: 1000, giveUpMs: 1000 });
  for (const a of adds) w.adds.push({ ...a, process: 0, invokedAt: 0, completedAt: 1, attempts: [] });
  return w;
}

describe('set check', () => {
  const adds = [
    { element: 'e0', bucket: 'set/b0', outcome: 'ok' as const },
    { element: 'e1', bucket: 'set/b0', outcome: 'info' as const },
    { element: 'e2', bucket: 'set/b1', outcome: 'info' as const },
    { element: 'e3', bucket: 'set/b1', outcome: 'fail' as const },
  ];

  it('accepts every acknowledged element once, indeterminate ones either way', () => {
    const c = workloadWith(adds).check({ items: new Map([['set/b0', 'e0,e1']]) });
    assert.equal(c.valid, true);
    assert.equal(c.acknowledged, 1);
    assert.equal(c.indeterminate, 2);
    assert.equal(c.recovered, 1);
    assert.equal(c.present, 2);
  });

  it('reports a lost acknowledged element', () => {
    const c = workloadWith(adds).check({ items: new Map([['set/b0', 'e1']]) });
    assert.equal(c.valid, false);
    assert.deepEqual(c.lost, ['e0']);
  });

  it('reports duplicates and elements that were never added or definitely failed', () => {
    const c = workloadWith(adds).check({
      items: new Map([
        ['set/b0', 'e0,e0,e9'],
        ['set/b1', 'e3'],
      ]),
    });
    assert.equal(c.valid, false);
    assert.deepEqual(c.duplicated, ['e0']);
    assert.deepEqual([...c.unexpected].sort(), ['e3', 'e9']);
  });

  it('an element in another bucket does not count', () => {
    const c = workloadWith(adds).check({ items: new Map([['set/b1', 'e0']]) });
    assert.deepEqual(c.lost, ['e0']);
    assert.deepEqual(c.unexpected, ['e0']);
  });

  it('a failed final read is not valid', () => {
    const c = workloadWith(adds).check({ error: '503 no_leader' });
    assert.equal(c.valid, false);
    assert.equal(c.finalRead, 'failed');
  });
});

describe('availability and counts', () => {
  const op = (id: number, at: number, ok: boolean): KvOp => ({
    id,
    process: id,
    key: 'k',
    kind: 'put',
    value: `v${id}`,
    invokedAt: at,
    completedAt: at + 1,
    outcome: ok ? { type: 'ok' } : { type: 'fail', error: '503 no_leader' },
  });
  const history = [op(0, 10, true), op(1, 110, false), op(2, 120, true), op(3, 300, true)];
  const timeline: TimelineEntry[] = [{ kind: 'kill-leader', start: 100, end: 200, detail: 'n1' }];

  it('splits ops by whether a fault was active when they were invoked', () => {
    const a = availability(history, timeline, 1000);
    assert.equal(a.duringFaults, 0.5);
    assert.equal(a.outsideFaults, 1);
    assert.equal(a.perFault.length, 1);
    assert.equal(a.perFault[0]!.ops, 2);
  });

  it('counts outcomes per kind', () => {
    assert.deepEqual(countOutcomes(history), { put: { ok: 3, fail: 1, info: 0 } });
  });
});

describe('reads at a woken, cut-off leader', () => {
  const get = (id: number, node: number, invokedAt: number, completedAt: number | null): RecordedOp => ({
    id,
    process: id,
    key: 'k',
    kind: 'get',
    invokedAt,
    completedAt,
    node,
    outcome: completedAt === null ? { type: 'info', error: 'timeout' } : { type: 'ok', value: 'v1' },
  });
  // Stopped at 100, woken at 200, heal began at 400.
  const timeline: TimelineEntry[] = [
    {
      kind: 'pause-isolate-leader',
      start: 100,
      end: 410,
      detail: 'n2',
      woken: { node: 2, at: 200, until: 400 },
    },
  ];

  it('counts reads sent while stopped and while awake, and those answered before the heal', () => {
    const history: RecordedOp[] = [
      get(0, 2, 90, 250), // sent before the stop: may have been confirmed before it, not counted
      get(1, 2, 150, 250), // queued while stopped, answered awake
      get(2, 2, 160, null), // queued while stopped, never answered
      get(3, 2, 300, 310), // sent and answered awake
      get(4, 2, 350, 450), // answered after the heal began: may be legitimate, not counted
      get(5, 1, 300, 310), // another node
      { ...get(6, 2, 300, 310), kind: 'put', value: 'v2', outcome: { type: 'ok' } }, // not a read
    ];
    assert.deepEqual(wokenReads(history, timeline, 1000), [
      { start: 100, node: 2, sentStopped: 2, sentAwake: 2, answered: 2 },
    ]);
  });

  it('ignores faults without a wake', () => {
    assert.deepEqual(wokenReads([], [{ kind: 'pause-leader', start: 0, end: 1, detail: 'n1' }], 10), []);
  });
});

describe('writes refused for space', () => {
  const body = { code: 'no_space', definite: true, reason: 'alarm', alarms: ['n2'] };

  it('a 507 no_space is a definite failure, recorded as such', () => {
    // Nothing was written: the checker may treat the write as never having happened, and the
    // set's element must then be absent.
    assert.equal(definiteFailure(507, body), true);
    assert.equal(describeAnswer(507, body), noSpaceAnswer);
  });

  const put = (id: number, invokedAt: number, completedAt: number, error: string): RecordedOp => ({
    id,
    process: id,
    key: 'k',
    kind: 'put',
    value: `v${id}`,
    invokedAt,
    completedAt,
    node: 1,
    outcome: { type: 'fail', error },
  });
  const timeline: TimelineEntry[] = [
    {
      kind: 'disk-full',
      start: 100,
      end: 500,
      detail: 'n2 (follower)',
      disk: {
        node: 2,
        leader: false,
        minFreeBytes: 16,
        freeAfterFill: 8,
        filledAt: 110,
        raisedAt: 150,
        freedAt: 400,
        clearedAt: 480,
        stopped: [],
      },
    },
    { kind: 'partition-halves', start: 600, end: 700, detail: 'n1 | n2,n3' },
  ];

  it('counts them per disk-full fault, by whether they were in flight during it', () => {
    const history = [
      put(0, 90, 160, noSpaceAnswer), // sent before the fault, refused during it
      put(1, 200, 210, noSpaceAnswer),
      put(2, 200, 210, '503 no_leader'), // another refusal
      put(3, 800, 810, noSpaceAnswer), // outside every disk-full fault
    ];
    const adds = workloadWith([{ element: 'e0', bucket: 'set/b0', outcome: 'ok' }]).adds;
    adds[0]!.attempts.push(
      { at: 300, sentAt: 290, node: 1, round: 0, result: 'fail', error: noSpaceAnswer },
      { at: 490, sentAt: 485, node: 1, round: 0, result: 'ok' },
    );
    assert.deepEqual(noSpaceAnswers(history, adds, timeline, 1000), {
      faults: [
        {
          start: 100,
          node: 2,
          leader: false,
          raised: true,
          cleared: true,
          alarmMs: 330,
          noSpaceRegister: 2,
          noSpaceSet: 1,
          stopped: [],
        },
      ],
      total: 4,
      outsideFaults: 1,
      setAddsRefused: 1,
      setAddsRefusedThenAcknowledged: 1,
    });
  });

  it('an alarm never seen cleared has no duration', () => {
    const open: TimelineEntry = { ...timeline[0]!, disk: { ...timeline[0]!.disk!, clearedAt: Number.NaN } };
    const [f] = noSpaceAnswers([], [], [open], 1000).faults;
    assert.equal(f?.cleared, false);
    assert.equal(f?.alarmMs, null);
  });
});
