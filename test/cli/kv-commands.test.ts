// Goal: the client commands send the requests of the HTTP API, fail over across endpoints
// safely, and turn every answer into the documented output and exit code.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Endpoint } from '../../src/cli/addresses.js';
import { UsageError } from '../../src/cli/args.js';
import {
  type HttpAnswer,
  type HttpRequest,
  RequestFailed,
  requestWithFailover,
} from '../../src/cli/client.js';
import {
  type ClientCommandName,
  exitCodes,
  httpRequestOf,
  parseClientCommand,
} from '../../src/cli/kv-commands.js';
import { renderAnswer, renderFailure, runClientCommand } from '../../src/cli/kv-output.js';
import { RaftkvConnectionError } from '../../src/client/index.js';

const key = () => 'K1';
const parse = (name: ClientCommandName, argv: string[], env: Record<string, string> = {}) =>
  parseClientCommand(name, argv, env, key);

test('requests: put, compare-and-set, get, stale get, del, list, status', () => {
  assert.deepEqual(httpRequestOf(parse('put', ['a b', 'v'])), {
    method: 'POST',
    path: '/kv',
    body: { key: 'a b', value: 'v' },
    timeoutMs: 10_000,
    idempotencyKey: 'K1',
  });
  assert.deepEqual(httpRequestOf(parse('put', ['k', 'v', '--prev-value', 'old'])).body, {
    key: 'k',
    value: 'v',
    prevValue: 'old',
  });
  assert.deepEqual(httpRequestOf(parse('put', ['k', 'v', '--prev-absent'])).body, {
    key: 'k',
    value: 'v',
    prevValue: null,
  });
  assert.equal(httpRequestOf(parse('put', ['k', 'v', '--idempotency-key', 'mine'])).idempotencyKey, 'mine');
  assert.equal(httpRequestOf(parse('put', ['k', ''])).method, 'POST', 'an empty value is a value');
  const get = httpRequestOf(parse('get', ['a/b?c']));
  assert.deepEqual([get.method, get.path, get.idempotencyKey], ['GET', '/kv/a%2Fb%3Fc', undefined]);
  assert.equal(httpRequestOf(parse('get', ['k', '--stale'])).path, '/kv/k?consistency=stale');
  const del = httpRequestOf(parse('del', ['ü']));
  assert.deepEqual([del.method, del.path, del.idempotencyKey], ['DELETE', '/kv/%C3%BC', 'K1']);
  assert.equal(httpRequestOf(parse('list', [])).path, '/kv?prefix=');
  assert.equal(
    httpRequestOf(parse('list', ['a&b', '--limit', '5', '--stale'])).path,
    '/kv?prefix=a%26b&limit=5&consistency=stale',
  );
  assert.equal(httpRequestOf(parse('status', [])).path, '/debug');
});

test('endpoints and timeout: flag, then RAFTKV_ENDPOINTS, then the local cluster', () => {
  assert.deepEqual(
    parse('get', ['k']).endpoints.map((e) => e.label),
    ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'],
  );
  assert.deepEqual(
    parse('get', ['k'], { RAFTKV_ENDPOINTS: 'a:1' }).endpoints.map((e) => e.url),
    ['http://a:1'],
  );
  assert.deepEqual(
    parse('get', ['k', '--endpoints', 'b:2,c:3'], { RAFTKV_ENDPOINTS: 'a:1' }).endpoints.map((e) => e.label),
    ['b:2', 'c:3'],
  );
  assert.equal(parse('get', ['k', '--timeout', '2s']).timeoutMs, 2000);
  assert.equal(parse('get', ['k'], { RAFTKV_TIMEOUT: '300' }).timeoutMs, 300);
});

test('usage errors', () => {
  const cases: [ClientCommandName, string[], RegExp][] = [
    ['put', [], /missing KEY/],
    ['put', ['k'], /missing VALUE/],
    ['put', ['', 'v'], /KEY must not be empty/],
    ['put', ['k', 'v', 'w'], /unexpected argument "w"/],
    ['put', ['k', 'v', '--prev-value', 'a', '--prev-absent'], /not both/],
    ['put', ['k', 'v', '--idempotency-key', ''], /must not be empty/],
    ['get', [], /missing KEY/],
    ['get', ['k', '--prev-absent'], /unknown flag --prev-absent/],
    ['del', ['a', 'b'], /unexpected argument/],
    ['list', ['--limit', '0'], /--limit must be at least 1/],
    ['status', ['x'], /unexpected argument/],
    ['status', ['--endpoints', 'nohost'], /--endpoints: "nohost" has no port/],
  ];
  for (const [name, argv, re] of cases) {
    assert.throws(
      () => parse(name, argv),
      (e: unknown) => e instanceof UsageError && re.test(e.message),
      `${name} ${argv.join(' ')}`,
    );
  }
});

const ep: Endpoint = { label: 'h:1', url: 'http://h:1' };
const answer = (status: number, body: unknown): HttpAnswer => ({ endpoint: ep, status, body });

test('success output', () => {
  assert.deepEqual(renderAnswer(parse('put', ['k', 'v']), answer(200, { key: 'k', value: 'v', index: 7 })), {
    out: 'OK\n',
    err: '',
    code: 0,
  });
  assert.equal(
    renderAnswer(parse('get', ['k']), answer(200, { key: 'k', value: 'a "raw"\tvalue', index: 7 })).out,
    'a "raw"\tvalue\n',
  );
  assert.equal(
    renderAnswer(parse('del', ['k']), answer(200, { key: 'k', deleted: true })).out,
    'deleted k\n',
  );
  assert.equal(
    renderAnswer(parse('del', ['k']), answer(200, { key: 'k', deleted: false })).out,
    'k was absent; nothing deleted\n',
  );
  const list = renderAnswer(
    parse('list', ['a']),
    answer(200, {
      items: [
        { key: 'a1', value: 'x' },
        { key: 'a2', value: 'y' },
      ],
      more: true,
    }),
  );
  assert.equal(list.out, 'a1\tx\na2\ty\n');
  assert.match(list.err, /more keys match; showing the first 2/);
  assert.equal(list.code, 0);
  const body = { key: 'k', value: 'v', index: 3 };
  assert.equal(
    renderAnswer(parse('get', ['k', '--json']), answer(200, body)).out,
    `${JSON.stringify(body)}\n`,
  );
});

test('not found, precondition failed, and errors', () => {
  assert.deepEqual(renderAnswer(parse('get', ['k']), answer(404, { key: 'k', value: null })), {
    out: '',
    err: 'raftkv: key not found: k\n',
    code: exitCodes.failed,
  });
  const route404 = renderAnswer(parse('get', ['k']), answer(404, { error: 'no route', code: 'not_found' }));
  assert.match(route404.err, /no route \(not_found\) \[h:1\]/, 'a 404 with an error is not "key not found"');
  const cas = renderAnswer(
    parse('put', ['k', 'v', '--prev-value', 'a']),
    answer(409, { error: 'x', code: 'precondition_failed', key: 'k', value: 'b' }),
  );
  assert.equal(
    cas.err,
    'raftkv: precondition failed for key "k": its current value is "b"; nothing written\n',
  );
  assert.equal(cas.code, exitCodes.failed);
  const absent = renderAnswer(
    parse('put', ['k', 'v', '--prev-value', 'a']),
    answer(409, { error: 'x', value: null }),
  );
  assert.match(absent.err, /it is absent/);
  const bad = renderAnswer(
    parse('put', ['k', 'v']),
    answer(400, { error: 'key too odd', code: 'bad_request', definite: true }),
  );
  assert.equal(bad.err, 'raftkv: key too odd (bad_request) [h:1]\n');
  assert.equal(bad.code, exitCodes.failed);
});

test('a write that may have happened says so, with the key to retry with, and exits 3', () => {
  for (const [status, body] of [
    [504, { error: 'timed out', code: 'timeout', definite: false }],
    [503, { error: 'leadership lost', code: 'leadership_lost', definite: false }],
    [500, { error: 'internal', code: 'internal', definite: false }],
  ] as const) {
    const out = renderAnswer(parse('put', ['k', 'v']), answer(status, body));
    assert.equal(out.code, exitCodes.unknown);
    assert.match(out.err, /outcome is unknown \(it may still be applied\): retry with --idempotency-key K1/);
  }
  const definite503 = renderAnswer(
    parse('del', ['k']),
    answer(503, { error: 'no leader', code: 'no_leader', definite: true }),
  );
  assert.equal(definite503.code, exitCodes.failed);
  const earlier = renderAnswer(
    parse('del', ['k']),
    answer(503, { error: 'no leader', code: 'no_leader', definite: true }),
    true,
  );
  assert.equal(earlier.code, exitCodes.unknown, 'an earlier attempt may have reached a node');
  const read = renderAnswer(
    parse('get', ['k']),
    answer(504, { error: 'timed out', code: 'timeout', definite: false }),
  );
  assert.equal(read.code, exitCodes.failed, 'reads have no outcome to be unsure of');
  assert.equal(
    renderFailure(new RequestFailed('no endpoint answered', true), parse('put', ['k', 'v'])).code,
    exitCodes.unknown,
  );
  assert.equal(
    renderFailure(new RequestFailed('no endpoint answered', false), parse('put', ['k', 'v'])).code,
    exitCodes.failed,
  );
  assert.equal(
    renderFailure(new RequestFailed('no endpoint answered', true), parse('get', ['k'])).code,
    exitCodes.failed,
  );
});

function refused(): Error {
  return new RaftkvConnectionError('GET', 'http://h:1/', false, false, 'connection refused', {
    code: 'ECONNREFUSED',
  });
}

function reset(): Error {
  return new RaftkvConnectionError('GET', 'http://h:1/', true, false, 'socket hang up (ECONNRESET)', {
    code: 'ECONNRESET',
  });
}

const eps: Endpoint[] = ['a:1', 'b:2', 'c:3'].map((label) => ({ label, url: `http://${label}` }));

function scripted(script: Record<string, () => HttpAnswer | Error>) {
  const seen: { label: string; req: HttpRequest }[] = [];
  const send = async (endpoint: Endpoint, req: HttpRequest): Promise<HttpAnswer> => {
    seen.push({ label: endpoint.label, req });
    const r = script[endpoint.label]!();
    if (r instanceof Error) throw r;
    return { ...r, endpoint };
  };
  return { seen, send };
}

test('failover: the next endpoint after a refused connection, with the same idempotency key', async () => {
  const { seen, send } = scripted({
    'a:1': refused,
    'b:2': () => answer(200, { key: 'k', value: 'v', index: 1 }),
    'c:3': refused,
  });
  const out = await runClientCommand({ ...parse('put', ['k', 'v']), endpoints: eps }, { send });
  assert.deepEqual(out, { out: 'OK\n', err: '', code: 0 });
  assert.deepEqual(
    seen.map((s) => [s.label, s.req.idempotencyKey]),
    [
      ['a:1', 'K1'],
      ['b:2', 'K1'],
    ],
  );
});

test('failover: past 503s; the last 503 is reported if nobody does better', async () => {
  const noLeader = () => answer(503, { error: 'no leader', code: 'no_leader', definite: true });
  const { seen, send } = scripted({ 'a:1': noLeader, 'b:2': noLeader, 'c:3': refused });
  const out = await runClientCommand({ ...parse('get', ['k']), endpoints: eps }, { send });
  assert.equal(seen.length, 3);
  assert.equal(out.code, exitCodes.failed);
  assert.match(out.err, /no leader \(no_leader\) \[b:2\]/);
});

test('failover: nothing answered; a reset connection leaves a write unknown', async () => {
  const down = scripted({ 'a:1': refused, 'b:2': refused, 'c:3': refused });
  const out = await runClientCommand({ ...parse('put', ['k', 'v']), endpoints: eps }, { send: down.send });
  assert.equal(out.code, exitCodes.failed, 'every connection was refused: nothing was written');
  assert.match(
    out.err,
    /no endpoint answered: a:1: connection refused; b:2: connection refused; c:3: connection refused/,
  );
  const flaky = scripted({ 'a:1': reset, 'b:2': refused, 'c:3': refused });
  const unknown = await runClientCommand(
    { ...parse('put', ['k', 'v']), endpoints: eps },
    { send: flaky.send },
  );
  assert.equal(unknown.code, exitCodes.unknown);
  assert.match(unknown.err, /a:1: socket hang up \(ECONNRESET\)/);
  await assert.rejects(
    requestWithFailover(eps, httpRequestOf(parse('get', ['k'])), down.send),
    RequestFailed,
  );
});

test('status: a table of every endpoint, unreachable ones included (exit 1)', async () => {
  const debug = (nodeId: string, state: string) => () =>
    answer(200, { nodeId, state, term: 4, leaderId: 'n2', commitIndex: 10, lastApplied: 9, logLength: 10 });
  const { send } = scripted({ 'a:1': debug('n1', 'follower'), 'b:2': debug('n2', 'leader'), 'c:3': refused });
  const out = await runClientCommand({ ...parse('status', []), endpoints: eps }, { send });
  assert.equal(
    out.out,
    [
      'ENDPOINT  ID  STATE     ROLE  TERM  LEADER  COMMIT  APPLIED  SPACE  MEMBERS',
      'a:1       n1  follower  -     4     n2      10      9        -      -',
      'b:2       n2  leader    -     4     n2      10      9        -      -',
      'c:3       unreachable: connection refused',
      '',
    ].join('\n'),
  );
  assert.equal(out.err, 'raftkv: 1 of 3 endpoints unreachable\n');
  assert.equal(out.code, 1);
  const up = scripted({
    'a:1': debug('n1', 'follower'),
    'b:2': debug('n2', 'leader'),
    'c:3': debug('n3', 'follower'),
  });
  const ok = await runClientCommand({ ...parse('status', ['--json']), endpoints: eps }, { send: up.send });
  assert.equal(ok.code, 0);
  const rows = JSON.parse(ok.out) as { endpoint: string; status: { nodeId: string } }[];
  assert.deepEqual(
    rows.map((r) => [r.endpoint, r.status.nodeId]),
    [
      ['a:1', 'n1'],
      ['b:2', 'n2'],
      ['c:3', 'n3'],
    ],
  );
});

test('membership: member list/add/promote/remove and leader move send the /cluster requests', () => {
  const req = (name: ClientCommandName, argv: string[]) => {
    const { method, path, body } = httpRequestOf(parse(name, argv));
    return { method, path, body };
  };
  assert.deepEqual(req('member', ['list']), { method: 'GET', path: '/cluster/members', body: undefined });
  assert.deepEqual(req('member', ['list', '--stale']).path, '/cluster/members?consistency=stale');
  assert.deepEqual(req('member', ['add', 'n4', '127.0.0.1:7004']), {
    method: 'POST',
    path: '/cluster/members',
    body: { id: 'n4', address: '127.0.0.1:7004', learner: false },
  });
  assert.deepEqual(req('member', ['add', 'n4', '[::1]:7004', '--learner']).body, {
    id: 'n4',
    address: '[::1]:7004',
    learner: true,
  });
  assert.deepEqual(req('member', ['promote', 'n4']), {
    method: 'POST',
    path: '/cluster/members/n4/promote',
    body: undefined,
  });
  assert.deepEqual(req('member', ['remove', 'n2']), {
    method: 'DELETE',
    path: '/cluster/members/n2',
    body: undefined,
  });
  assert.deepEqual(req('leader', ['move']), { method: 'POST', path: '/cluster/leader', body: {} });
  assert.deepEqual(req('leader', ['move', 'n3']).body, { to: 'n3' });
  // Writes of membership carry no idempotency key: a change is refused, not applied twice.
  assert.equal(parse('member', ['remove', 'n2']).idempotencyKey, undefined);
  for (const [name, argv, why] of [
    ['member', [], /member list\|add\|promote\|remove/],
    ['member', ['add', 'n4'], /member add ID HOST:PORT/],
    ['member', ['add', 'n/4', '127.0.0.1:1'], /not a valid node id/],
    ['member', ['add', 'n4', 'nowhere'], /has no port/],
    ['member', ['remove', 'n2', '--learner'], /--learner goes with "member add"/],
    ['leader', ['elect'], /leader move/],
  ] as const) {
    assert.throws(
      () => parse(name, [...argv]),
      (e: unknown) => e instanceof UsageError && why.test(e.message),
    );
  }
});

test('membership output: the member table, the leader marked', () => {
  const inv = parse('member', ['list']);
  const body = {
    members: [
      { id: 'n1', address: '127.0.0.1:7001', role: 'voter' },
      { id: 'n4', address: '127.0.0.1:7004', role: 'learner' },
    ],
    leaderId: 'n1',
    index: 12,
  };
  const out = renderAnswer(inv, { status: 200, body, endpoint: { label: 'x' } } as unknown as HttpAnswer);
  assert.equal(
    out.out,
    'ID    ROLE     ADDRESS\nn1 *  voter    127.0.0.1:7001\nn4    learner  127.0.0.1:7004\n(* leader; configuration at index 12)\n',
  );
  const moved = renderAnswer(parse('leader', ['move', 'n3']), {
    status: 200,
    body: { leaderId: 'n3', term: 5 },
    endpoint: { label: 'x' },
  } as unknown as HttpAnswer);
  assert.equal(moved.out, 'leader is n3 (term 5)\n');
  const refused = renderAnswer(parse('member', ['remove', 'n1']), {
    status: 409,
    body: { error: 'n1 is the last voter', code: 'last_voter', definite: true },
    endpoint: { label: '127.0.0.1:7001' },
  } as unknown as HttpAnswer);
  assert.equal(refused.code, exitCodes.failed);
  assert.match(refused.err, /last_voter/);
});

test('--token (or RAFTKV_TOKEN, the flag winning) goes on every request as the bearer token', () => {
  assert.equal(httpRequestOf(parse('get', ['k', '--token', 'flag-token'])).token, 'flag-token');
  assert.equal(httpRequestOf(parse('put', ['k', 'v'], { RAFTKV_TOKEN: 'env-token' })).token, 'env-token');
  assert.equal(
    httpRequestOf(parse('status', ['--token', 'flag-token'], { RAFTKV_TOKEN: 'env-token' })).token,
    'flag-token',
  );
  assert.equal(httpRequestOf(parse('get', ['k'])).token, undefined);
  assert.throws(() => parse('get', ['k', '--token', 'a b']), /--token must be printable ASCII/);
});

test('txn: the FILE (or stdin) as the POST /txn body, with an idempotency key; both outcomes exit 0', () => {
  const body = {
    compare: [{ key: 'lock', target: 'exists', op: '==', value: false }],
    success: [{ put: { key: 'lock', value: 'me' } }],
    failure: [{ get: { key: 'lock' } }],
  };
  const files: Record<string, string> = {
    't.json': JSON.stringify(body),
    '/dev/stdin': '{}',
    'bad.json': '[1]',
  };
  const read = (f: string): Buffer => {
    const text = files[f];
    if (text === undefined)
      throw Object.assign(new Error(`ENOENT: no such file, open '${f}'`), { code: 'ENOENT' });
    return Buffer.from(text);
  };
  const inv = parseClientCommand('txn', ['t.json'], {}, key, read);
  const req = httpRequestOf(inv);
  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/txn');
  assert.deepEqual(req.body, body);
  assert.equal(req.idempotencyKey, 'K1');
  assert.deepEqual(httpRequestOf(parseClientCommand('txn', ['-'], {}, key, read)).body, {});
  assert.throws(() => parseClientCommand('txn', [], {}, key, read), /missing FILE/);
  assert.throws(() => parseClientCommand('txn', ['nope.json'], {}, key, read), /cannot read nope\.json/);
  assert.throws(() => parseClientCommand('txn', ['bad.json'], {}, key, read), /JSON object/);
  const won = renderAnswer(
    inv,
    answer(200, {
      succeeded: true,
      index: 9,
      results: [{ put: { key: 'lock', value: 'me', version: 1, createIndex: 9, modIndex: 9 } }],
    }),
  );
  assert.deepEqual(won, { out: 'succeeded (index 9)\nput lock (version 1)\n', err: '', code: exitCodes.ok });
  const lost = renderAnswer(
    inv,
    answer(200, {
      succeeded: false,
      index: 10,
      results: [{ get: { key: 'lock', value: 'you' } }, { delete: { key: 'x', deleted: false } }],
    }),
  );
  assert.equal(lost.out, 'failed: the failure ops ran (index 10)\nget lock you\ndelete x (absent)\n');
  assert.equal(lost.code, exitCodes.ok);
});
