// Goal: `raftkv lease grant|keepalive|revoke|show` and `raftkv put --lease` send the requests of the
// lease API (docs/leases.md), refuse malformed command lines with a usage error, and print what
// docs/cli.md says; `lease keepalive` renews every TTL/3 until a signal (exit 0), rides out
// unanswered renewals, and exits 1 once the lease is gone.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Endpoint } from '../../src/cli/addresses.js';
import { UsageError } from '../../src/cli/args.js';
import type { HttpAnswer, HttpRequest } from '../../src/cli/client.js';
import { RequestFailed } from '../../src/cli/client.js';
import type { Io } from '../../src/cli/io.js';
import { exitCodes, httpRequestOf, parseClientCommand } from '../../src/cli/kv-commands.js';
import { renderAnswer, renderFailure } from '../../src/cli/kv-output.js';
import { type CliDeps, runCli } from '../../src/cli/run.js';

const parse = (name: 'put' | 'lease', argv: string[]) => parseClientCommand(name, argv, {}, () => 'K1');
const endpoint: Endpoint = { label: '127.0.0.1:7001', url: 'http://127.0.0.1:7001' };
const answer = (status: number, body: unknown): HttpAnswer => ({ endpoint, status, body });

test('requests: grant, keepalive, revoke, show, put --lease', () => {
  const req = (argv: string[]) => {
    const r = httpRequestOf(parse('lease', argv));
    return { method: r.method, path: r.path, body: r.body, idempotencyKey: r.idempotencyKey };
  };
  assert.deepEqual(req(['grant', '60']), {
    method: 'POST',
    path: '/leases',
    body: { ttl: 60 },
    idempotencyKey: undefined,
  });
  assert.deepEqual(req(['keepalive', '12', '--once']), {
    method: 'POST',
    path: '/leases/12/keepalive',
    body: undefined,
    idempotencyKey: undefined,
  });
  assert.deepEqual(req(['revoke', '12']).method, 'DELETE');
  assert.deepEqual(req(['revoke', '12']).path, '/leases/12');
  assert.deepEqual(req(['show', '12']).path, '/leases/12');
  assert.deepEqual(req(['show', '12', '--stale']).path, '/leases/12?consistency=stale');
  assert.deepEqual(httpRequestOf(parse('put', ['k', 'v', '--lease', '12'])).body, {
    key: 'k',
    value: 'v',
    lease: 12,
  });
  assert.deepEqual(httpRequestOf(parse('put', ['k', 'v', '--prev-absent', '--lease', '3'])).body, {
    key: 'k',
    value: 'v',
    prevValue: null,
    lease: 3,
  });
});

test('usage errors name what is wrong', () => {
  const cases: ['put' | 'lease', string[], RegExp][] = [
    ['lease', [], /expected "raftkv lease grant TTL \| keepalive ID \| revoke ID \| show ID", not ""/],
    ['lease', ['renew', '1'], /not "renew"/],
    ['lease', ['grant'], /expected "raftkv lease grant TTL"/],
    ['lease', ['grant', '0'], /TTL must be between 1 and 9000000000, got 0/],
    ['lease', ['grant', '9000000001'], /TTL must be between 1 and 9000000000/],
    ['lease', ['grant', '1.5'], /TTL must be a whole number/],
    ['lease', ['grant', '60', '61'], /unexpected argument "61"/],
    ['lease', ['keepalive'], /expected "raftkv lease keepalive ID"/],
    ['lease', ['keepalive', '0'], /ID must be at least 1/],
    ['lease', ['revoke', 'abc'], /ID must be a whole number/],
    ['lease', ['grant', '60', '--once'], /--once goes with "lease keepalive"/],
    ['lease', ['revoke', '1', '--stale'], /--stale goes with "lease show"/],
    ['put', ['k', 'v', '--lease', 'x'], /--lease must be a whole number/],
    ['put', ['k', 'v', '--lease', '0'], /--lease must be at least 1/],
  ];
  for (const [name, argv, message] of cases) {
    assert.throws(
      () => parse(name, argv),
      (e: unknown) => e instanceof UsageError && message.test(e.message),
      argv.join(' '),
    );
  }
});

test('output of each answer, and the exit codes', () => {
  const out = (argv: string[], a: HttpAnswer) => renderAnswer(parse('lease', argv), a);
  assert.deepEqual(out(['grant', '60'], answer(200, { id: 4711, ttl: 60 })), {
    out: 'lease 4711 granted with TTL 60s\n',
    err: '',
    code: 0,
  });
  assert.equal(
    out(['keepalive', '4711', '--once'], answer(200, { id: 4711, ttl: 60 })).out,
    'lease 4711 kept alive with TTL 60s\n',
  );
  assert.equal(
    out(['revoke', '4711'], answer(200, { id: 4711, keys: ['a', 'b'], index: 9 })).out,
    'lease 4711 revoked; 2 keys deleted\na\nb\n',
  );
  assert.equal(
    out(['show', '4711'], answer(200, { id: 4711, ttl: 60, remaining: 42, keys: ['lock'], index: 9 })).out,
    'lease 4711: TTL 60s, 42s remaining, 1 keys\nlock\n',
  );
  const json = renderAnswer(parse('lease', ['grant', '60', '--json']), answer(200, { id: 4711, ttl: 60 }));
  assert.equal(json.out, '{"id":4711,"ttl":60}\n');
  const gone = { error: 'lease 4711 does not exist', code: 'lease_not_found', definite: true, id: 4711 };
  for (const action of ['keepalive', 'revoke', 'show']) {
    assert.deepEqual(out([action, '4711'], answer(404, gone)), {
      out: '',
      err: 'raftkv: lease 4711 not found: it expired, was revoked, or was never granted\n',
      code: exitCodes.failed,
    });
  }
  // A put naming a lease that is gone: the server's message, exit 1.
  const put = renderAnswer(parse('put', ['k', 'v', '--lease', '4711']), answer(404, gone));
  assert.equal(put.code, exitCodes.failed);
  assert.match(put.err, /lease_not_found/);
  // Unknown outcomes: exit 3, saying what may have happened.
  const timeout = { error: 'the write did not commit in time', code: 'timeout', definite: false };
  const grant = out(['grant', '60'], answer(504, timeout));
  assert.equal(grant.code, exitCodes.unknown);
  assert.match(grant.err, /a lease may have been granted: nobody renews it, so it expires after its TTL/);
  assert.match(out(['revoke', '7'], answer(504, timeout)).err, /revoking it again is safe/);
  const lost = renderFailure(
    new RequestFailed('no endpoint answered', true),
    parse('lease', ['keepalive', '7']),
  );
  assert.equal(lost.code, exitCodes.unknown);
  assert.match(lost.err, /lease 7 may have been renewed: renewing it again is safe/);
  // A read is no write: a failed show is exit 1.
  assert.equal(
    renderFailure(new RequestFailed('x', true), parse('lease', ['show', '7'])).code,
    exitCodes.failed,
  );
});

/** runCli with a scripted network, clock and signal for `raftkv lease keepalive`. */
function keepaliveHarness(script: (req: HttpRequest, call: number) => HttpAnswer | Error) {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => (out += t), err: (t) => (err += t) };
  let now = 0;
  const sleeps: number[] = [];
  const sent: { path: string; at: number }[] = [];
  let signal: (s: string) => void = () => {};
  let calls = 0;
  const deps: CliDeps = {
    io,
    startNode: async () => {
      throw new Error('no node here');
    },
    start: { onSignal: () => {}, onStdinClosed: () => {} },
    cluster: { onSignal: () => {}, command: ['false'], pollIntervalMs: 1000, gracePeriodMs: 1000 },
    kv: {
      send: async (_e, req) => {
        sent.push({ path: req.path, at: now });
        const a = script(req, calls++);
        if (a instanceof Error) throw a;
        return a;
      },
    },
    keepalive: {
      now: () => now,
      sleep: async (ms) => {
        sleeps.push(ms);
        now += ms;
      },
      onSignal: (h) => {
        signal = h;
      },
    },
  };
  return {
    run: (argv: string[]) =>
      runCli(['lease', 'keepalive', ...argv, '--endpoints', '127.0.0.1:7001'], {}, deps),
    out: () => out,
    err: () => err,
    sleeps,
    sent,
    stop: () => signal('SIGINT'),
  };
}

test('keepalive renews every TTL/3, rides out unanswered renewals, and exits 1 once the lease is gone', async () => {
  const ok = answer(200, { id: 5, ttl: 3 });
  const h = keepaliveHarness((_req, call) => {
    if (call < 2) return ok;
    if (call === 2) return new Error('connect ECONNREFUSED');
    if (call === 3) return answer(503, { error: 'no leader', code: 'no_leader', definite: true });
    if (call === 4) return ok;
    return answer(404, { error: 'lease 5 does not exist', code: 'lease_not_found', definite: true });
  });
  assert.equal(await h.run(['5']), exitCodes.failed);
  assert.ok(h.sent.every((s) => s.path === '/leases/5/keepalive'));
  assert.equal(h.out(), 'lease 5 kept alive with TTL 3s\n'.repeat(3));
  // A third of the TTL after each acknowledged send; a tenth of it (at most 1 s) after a failure.
  assert.deepEqual(h.sleeps, [1000, 1000, 300, 300, 1000]);
  assert.match(h.err(), /lease 5: renewal failed, retrying: .*ECONNREFUSED/);
  assert.match(h.err(), /lease 5: renewal not acknowledged \(503\), retrying/);
  assert.match(h.err(), /raftkv: lease 5 not found: it expired, was revoked, or was never granted\n$/);
});

test('keepalive warns once no renewal has been acknowledged for a whole TTL, and stops on a signal', async () => {
  let h: ReturnType<typeof keepaliveHarness> | null = null;
  h = keepaliveHarness((_req, call) => {
    if (call === 0) return answer(200, { id: 5, ttl: 1 });
    if (call === 20) h?.stop();
    return new Error('connect ECONNREFUSED');
  });
  assert.equal(await h.run(['5']), exitCodes.ok);
  assert.equal(h.out(), 'lease 5 kept alive with TTL 1s\n');
  const warnings = h.err().match(/no renewal acknowledged for its whole TTL: it may have expired/g) ?? [];
  assert.equal(warnings.length, 1, h.err());
  assert.equal(h.sent.length, 21);
});

test('keepalive --once: one renewal, the one-shot output', async () => {
  const h = keepaliveHarness(() => answer(200, { id: 5, ttl: 3 }));
  // --once goes through the one-shot path (kv.send), not the loop.
  assert.equal(await h.run(['5', '--once']), exitCodes.ok);
  assert.equal(h.sent.length, 1);
  assert.deepEqual(h.sleeps, []);
});
