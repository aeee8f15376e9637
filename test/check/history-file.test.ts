// Goal: a saved history reads back identical to what was written (so re-checking it gives the
// same verdict), and malformed files are refused with the offending line named.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  checkKvHistory,
  formatHistory,
  HistoryFormatError,
  type KvOp,
  parseHistory,
  readHistoryFile,
  writeHistoryFile,
} from '../../src/check/index.js';
import { cas, del, get, history, put, rejected } from './fixtures.js';
import { execute, garbage, plansArb } from './generators.js';

const sample: KvOp[] = history(
  put('c1', 'x', '1', [0, 10]),
  get(2, 'x', [11, 12], '1'),
  get(3, 'x', 13),
  cas(4, 'x', '1', '2', [14, 20], '409'),
  cas(5, 'x', null, 'v', 21),
  rejected(put(6, 'y', 'z', [22, 23])),
  del(7, 'x', [24, 25], true),
  del(8, 'x', [26, 27]),
);

describe('history files', () => {
  it('round-trips a history through text', () => {
    assert.deepEqual(parseHistory(formatHistory(sample)), sample);
  });

  it('round-trips random histories', () => {
    fc.assert(
      fc.property(plansArb(10), fc.boolean(), (plans, real) => {
        const h = real ? execute(plans) : garbage(plans);
        assert.deepEqual(parseHistory(formatHistory(h)), h);
      }),
      { numRuns: 200 },
    );
  });

  it('writes one op per line after a header, with a readable field order', () => {
    const lines = formatHistory(sample).trimEnd().split('\n');
    assert.equal(lines.length, sample.length + 1);
    assert.equal(lines[0], '{"format":"raftkv-history","version":1}');
    assert.equal(
      lines[4],
      '{"id":4,"process":4,"key":"x","kind":"cas","prevValue":"1","value":"2","invokedAt":14,' +
        '"completedAt":20,"outcome":{"type":"fail","precondition":true}}',
    );
  });

  it('saves to and loads from a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raftkv-history-'));
    try {
      const path = join(dir, 'history.jsonl');
      await writeHistoryFile(path, sample);
      const loaded = await readHistoryFile(path);
      assert.deepEqual(loaded, sample);
      assert.equal(checkKvHistory(loaded).verdict, checkKvHistory(sample).verdict);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('accepts a file without header or with blank lines, and ignores unknown fields', () => {
    const text =
      '\n{"id":1,"process":1,"key":"k","kind":"get","invokedAt":0,"completedAt":1,' +
      '"outcome":{"type":"ok","value":null},"node":"n2"}\n\n';
    assert.deepEqual(parseHistory(text), history(get(1, 'k', [0, 1], null)));
  });

  it('names the line of a malformed op', () => {
    const good = formatHistory(sample).trimEnd();
    const cases: [string, RegExp][] = [
      ['not json', /line 10: not JSON/],
      [
        '{"id":9,"process":1,"key":"x","kind":"inc","invokedAt":0,"completedAt":1,"outcome":{"type":"ok"}}',
        /kind/,
      ],
      [
        '{"id":9,"process":1,"key":"x","kind":"put","invokedAt":0,"completedAt":1,"outcome":{"type":"ok"}}',
        /"value"/,
      ],
      [
        '{"id":9,"process":1,"key":"x","kind":"get","invokedAt":0,"completedAt":1,"outcome":{"type":"maybe"}}',
        /outcome.type/,
      ],
      [
        '{"id":"9","process":1,"key":"x","kind":"delete","invokedAt":0,"completedAt":1,"outcome":{"type":"ok"}}',
        /"id"/,
      ],
    ];
    for (const [line, message] of cases) {
      assert.throws(
        () => parseHistory(`${good}\n${line}\n`),
        (e: unknown) => {
          assert.ok(e instanceof HistoryFormatError);
          assert.match(e.message, /^line 10: /);
          assert.match(e.message, message);
          return true;
        },
      );
    }
  });

  it('refuses an unknown format header', () => {
    assert.throws(() => parseHistory('{"format":"raftkv-history","version":2}\n'), HistoryFormatError);
  });
});
