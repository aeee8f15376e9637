// Hostile HTTP requests and what every answer to them must look like, shared by the property test
// (test/server/hostile-input.test.ts, in process) and the long run against a real cluster
// (hostile-cli.ts). Requests are written as raw bytes on a fresh TCP connection, so the generator
// can send what no HTTP client library would: duplicated and non-ASCII headers, bad framing,
// unencoded bytes in the target, bodies on routes that take none, bodies past the limits.
//
// The contract checked for every request (docs/errors.md):
//  - an answer arrives, whole, before the connection ends (no reset, no silent close);
//  - its status is never 500 (nor any other 5xx but the documented 503/504 of a real cluster);
//  - an error answer is JSON {error, code, definite} with a code from docs/errors.md;
//  - `definite` is true whenever nothing was written.

import { readFileSync } from 'node:fs';
import net from 'node:net';
import fc from 'fast-check';
import { MAX_KEY_BYTES } from '../../src/kv/limits.js';
import { maxBodyBytes } from '../../src/server/validate.js';
import { encodeHelloFrame } from '../../src/transport/control-frames.js';
import { PEER_UPGRADE_PROTOCOL } from '../../src/transport/types.js';

export type Framing = 'length' | 'chunked' | 'none';

export interface RawRequest {
  readonly method: string;
  /** The request target, written as is (it may hold bytes no URL allows). */
  readonly target: string;
  /** Header lines in order, duplicates allowed; values are Latin-1 (one byte per char). */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
  readonly framing: Framing;
  /**
   * Send only this many bytes of the request, then close the sending side (a FIN): the answer
   * must still come (a 400), not a stall until the request timeout.
   */
  readonly cutAt?: number;
  /** Bytes sent instead of a request (then a FIN): anything that is not HTTP at all. */
  readonly raw?: Uint8Array;
}

export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly text: string;
}

/** The request as bytes on the wire. */
export function encodeRequest(r: RawRequest): Buffer {
  if (r.raw !== undefined) return Buffer.from(r.raw);
  const whole = encodeWhole(r);
  return r.cutAt === undefined ? whole : whole.subarray(0, r.cutAt);
}

function encodeWhole(r: RawRequest): Buffer {
  const lines = [`${r.method} ${r.target} HTTP/1.1`, 'host: raftkv'];
  for (const [name, value] of r.headers) lines.push(`${name}: ${value}`);
  if (r.framing === 'length') lines.push(`content-length: ${r.body.byteLength}`);
  if (r.framing === 'chunked') lines.push('transfer-encoding: chunked');
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  if (r.framing !== 'chunked') return Buffer.concat([head, r.body]);
  const parts: Buffer[] = [head];
  const chunk = 64 * 1024;
  for (let at = 0; at < r.body.byteLength; at += chunk) {
    const piece = r.body.subarray(at, Math.min(r.body.byteLength, at + chunk));
    parts.push(
      Buffer.from(`${piece.byteLength.toString(16)}\r\n`, 'latin1'),
      Buffer.from(piece),
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/**
 * Sends `r` on a new connection and reads the first answer. Rejects if the connection ends, is
 * reset or stays silent for `timeoutMs` before a whole answer (status line, headers and the
 * content-length body) arrived; what happens to the connection after that answer is not judged.
 */
export function send(port: number, r: RawRequest, timeoutMs = 20_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | null, answer?: RawAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const answer = parseAnswer(received, r.method);
      if (answer !== null) finish(null, answer);
    });
    socket.on('error', (e) => finish(new Error(`connection failed before the answer: ${e.message}`)));
    socket.on('close', () => finish(new Error('connection closed before a whole answer arrived')));
    socket.write(encodeRequest(r), () => {});
    if (r.raw !== undefined || r.cutAt !== undefined) socket.end();
  });
}

/** The first whole answer in `bytes`, or null while it is incomplete. */
function parseAnswer(bytes: Buffer, method: string): RawAnswer | null {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? Number.NaN);
  // An interim answer (100 Continue) comes before the real one.
  // A 101 (a peer upgrade) is the last HTTP there is on the connection.
  if (status >= 100 && status < 200 && status !== 101) return parseAnswer(bytes.subarray(end + 4), method);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  // A HEAD answer has no body, whatever its content-length says.
  const length = method === 'HEAD' ? 0 : Number(headers['content-length'] ?? 0);
  if (bytes.byteLength < end + 4 + length) return null;
  return { status, headers, text: bytes.subarray(end + 4, end + 4 + length).toString('utf8') };
}

/** The codes docs/errors.md lists. */
export function documentedCodes(): Set<string> {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  return new Set([...doc.matchAll(/^\| `([a-z_]+)` \| \d{3} \|/gm)].map((m) => m[1]!));
}

/**
 * What is wrong with `answer` to `r` (null: nothing). `wrote` says whether the request changed
 * the store; `allow5xx` admits the documented 503/504 a real cluster may give under load.
 */
export function judge(
  r: RawRequest,
  answer: RawAnswer,
  codes: ReadonlySet<string>,
  wrote: boolean,
  allow5xx: boolean,
): string | null {
  const { status } = answer;
  // A node hands a peer upgrade to its transport; what that does with bad frames is judged by the
  // node staying healthy (and by test/transport/hostile-peer.test.ts).
  if (status === 101 && isPeerUpgrade(r)) return null;
  if (!(status >= 200 && status < 600)) return `no valid status line (status ${status})`;
  if (status === 500) return `500: ${answer.text}`;
  if (status >= 500 && !(allow5xx && (status === 503 || status === 504))) return `${status}: ${answer.text}`;
  if (r.method === 'HEAD') return null;
  if (status < 400) return null;
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    return `${status} with a body that is not JSON: ${answer.text.slice(0, 200)}`;
  }
  if (typeof body !== 'object' || body === null) return `${status} with a non-object body`;
  const b = body as Record<string, unknown>;
  // GET /kv/{key} of an absent key: 404 {key, value: null}, not an error.
  if (status === 404 && b.value === null && typeof b.key === 'string' && !('code' in b)) return null;
  // GET /health or /readyz of a node not ready: 503 {ok: false, reason, nodeId}, a status, not an error.
  const probe = r.target.startsWith('/health') || r.target.startsWith('/readyz');
  if (status === 503 && b.ok === false && typeof b.reason === 'string' && probe) return null;
  if (typeof b.error !== 'string' || b.error.length === 0)
    return `${status} without an error message: ${answer.text}`;
  if (typeof b.code !== 'string' || !codes.has(b.code))
    return `${status} with undocumented code ${String(b.code)}`;
  if (typeof b.definite !== 'boolean') return `${status} without a boolean "definite"`;
  if (!wrote && !b.definite) return `${status} ${b.code} says definite: false, but nothing was written`;
  return null;
}

/** A short, readable description of a request for failure messages and regression lists. */
export function describe(r: RawRequest): string {
  if (r.raw !== undefined) {
    const bytes = Buffer.from(r.raw).subarray(0, 300).toString('latin1');
    return `raw bytes ${JSON.stringify(bytes)}${r.raw.byteLength > 300 ? '…' : ''}`;
  }
  const cut = r.cutAt === undefined ? '' : `, cut after ${r.cutAt} bytes`;
  const headers = r.headers.map(
    ([n, v]) => `${n}: ${JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v)}`,
  );
  const body =
    r.body.byteLength <= 80
      ? JSON.stringify(Buffer.from(r.body).toString('latin1'))
      : `${r.body.byteLength} bytes`;
  return `${r.method} ${JSON.stringify(r.target.length > 120 ? `${r.target.slice(0, 120)}…` : r.target)} [${headers.join('; ')}] body ${body} (${r.framing}${cut})`;
}

// ---------- generators ----------

const methods = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'POST', 'DELETE') },
  { weight: 2, arbitrary: fc.constantFrom('PUT', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'CONNECT') },
  { weight: 1, arbitrary: fc.constantFrom('get', 'G\u00c9T', 'X-CUSTOM', 'POST ', '') },
);

const percentGarbage = fc.constantFrom(
  '%',
  '%Z',
  '%ZZ',
  '%C3%28',
  '%ED%A0%80',
  '%FF',
  '%00',
  '%2F',
  '%20',
  '%E2%82',
);
const keyPart = fc.oneof(
  fc.string({ maxLength: 12 }).map((s) => encodeURIComponent(s)),
  fc.constantFrom('..', '.', '', 'a/b', '../debug', '%2e%2e', 'k'),
  percentGarbage,
  fc.integer({ min: MAX_KEY_BYTES - 2, max: MAX_KEY_BYTES + 2 }).map((n) => 'k'.repeat(n)),
  fc.integer({ min: 1, max: 4 * MAX_KEY_BYTES }).map((n) => '%41'.repeat(n)),
  fc.string({ unit: 'binary', maxLength: 6 }),
);
const path = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.array(keyPart, { minLength: 1, maxLength: 3 }).map((parts) => `/kv/${parts.join('')}`),
  },
  { weight: 3, arbitrary: fc.constant('/kv') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '/debug',
      '/health',
      '/readyz',
      '/livez',
      '/metrics',
      '/admin/snapshot',
      '/leases',
      '/leases/1',
      '/leases/1/keepalive',
      '/leases/0',
      '/leases/1e3',
      '/leases/%31',
      '/leases/9007199254740993/keepalive',
      '/kv/',
      '/',
      '/kv//x',
      '//kv',
      '/KV/x',
      '*',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);

const queryValue = fc.oneof(
  fc.constantFrom(
    'stale',
    'linearizable',
    'STALE',
    '',
    '1',
    '10',
    '0',
    '-1',
    '10000',
    '10001',
    '1e3',
    ' 5',
    'abc',
  ),
  percentGarbage,
  fc.string({ maxLength: 10 }).map((s) => encodeURIComponent(s)),
  fc.integer({ min: MAX_KEY_BYTES - 1, max: MAX_KEY_BYTES + 10 }).map((n) => 'p'.repeat(n)),
);
const query = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  {
    weight: 3,
    arbitrary: fc
      .array(
        fc.tuple(
          fc.constantFrom('consistency', 'limit', 'prefix', 'x', '', 'limit[]'),
          fc.option(queryValue),
        ),
        { maxLength: 4 },
      )
      .map((pairs) => `?${pairs.map(([k, v]) => (v === null ? k : `${k}=${v}`)).join('&')}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('?', '?&&', '?limit', '?=', '?%', '?consistency=stale&consistency=stale'),
  },
);

const latin1 = (maxLength: number) =>
  fc
    .array(fc.integer({ min: 0x20, max: 0xff }), { maxLength })
    .map((cs) => String.fromCharCode(...cs.filter((c) => c !== 0x7f)));
const idempotencyValue = fc.oneof(
  fc.constantFrom('', ' ', 'k', 'a, b', '\u00e9t\u00e9', 'x'.repeat(256), 'x'.repeat(257)),
  fc.string({ maxLength: 40 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
  latin1(20),
  fc.integer({ min: 1, max: 9000 }).map((n) => 'i'.repeat(n)),
);
const header = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.constant('Idempotency-Key'), idempotencyValue) },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.constant('content-type'),
      fc.constantFrom('application/json', 'text/plain', '', 'x/\u00ff'),
    ),
  },
  { weight: 1, arbitrary: fc.tuple(fc.constant('x-raftkv-forwarded'), fc.constantFrom('1', '', 'yes')) },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.constantFrom('expect', 'connection'),
      fc.constantFrom('100-continue', 'close', 'keep-alive', 'upgrade'),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom('x-a', 'accept', 'x-\u00e9', 'bad header', ''), latin1(30)),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.constant('x-big'),
      fc.integer({ min: 1, max: 20_000 }).map((n) => 'h'.repeat(n)),
    ),
  },
);

const jsonBody = fc
  .oneof(
    fc.record(
      {
        key: fc.oneof(fc.string({ maxLength: 10 }), fc.constant(''), fc.integer(), fc.constant(null)),
        value: fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.constant(null)),
        prevValue: fc.oneof(fc.string({ maxLength: 5 }), fc.constant(null), fc.boolean()),
        other: fc.string({ maxLength: 3 }),
      },
      { requiredKeys: [] },
    ),
    fc.jsonValue({ maxDepth: 2 }),
  )
  .map((v) => Buffer.from(JSON.stringify(v)));
const body = fc.oneof(
  { weight: 4, arbitrary: fc.constant(new Uint8Array(0)) },
  { weight: 4, arbitrary: jsonBody },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(64 * 1024, 1024 * 1024, 3 * 1024 * 1024, maxBodyBytes, maxBodyBytes + 1)
      .map((n) => new Uint8Array(n).fill(0x61)),
  },
);

/** Well-formed writes and reads on a few keys, so acknowledged writes can be checked afterwards. */
const wellFormed: fc.Arbitrary<RawRequest> = fc
  .record({
    op: fc.constantFrom('put', 'put', 'cas', 'delete', 'get', 'members', 'debug'),
    key: fc.constantFrom('a', 'b', 'c', 'd', 'k/1', 'caf\u00e9', '\u{1f511}'),
    value: fc.string({ maxLength: 16 }).filter((v) => !/\p{Cs}/u.test(v)),
    idempotencyKey: fc.option(fc.stringMatching(/^[a-z0-9-]{1,12}$/)),
  })
  .map(({ op, key, value, idempotencyKey }) => {
    const headers: [string, string][] = idempotencyKey === null ? [] : [['Idempotency-Key', idempotencyKey]];
    const path = `/kv/${encodeURIComponent(key)}`;
    if (op === 'members' || op === 'debug')
      return {
        method: 'GET',
        target: op === 'members' ? '/cluster/members' : '/debug',
        headers: [],
        body: new Uint8Array(0),
        framing: 'length',
      };
    if (op === 'get')
      return { method: 'GET', target: path, headers: [], body: new Uint8Array(0), framing: 'length' };
    if (op === 'delete')
      return { method: 'DELETE', target: path, headers, body: new Uint8Array(0), framing: 'length' };
    const body = op === 'cas' ? { key, value, prevValue: null } : { key, value };
    return {
      method: 'POST',
      target: '/kv',
      headers,
      body: Buffer.from(JSON.stringify(body)),
      framing: 'length',
    };
  });

/** A request cut off somewhere before its last byte, the sending side then closed. */
const truncated: fc.Arbitrary<RawRequest> = fc
  .tuple(fc.oneof(wellFormed, garbled()), fc.double({ min: 0, max: 1, noNaN: true }))
  .map(([r, at]) => {
    const whole = encodeWhole(r).byteLength;
    return { ...r, cutAt: 1 + Math.floor(at * (whole - 2)) };
  });

/** Bytes that are not HTTP (then a FIN). A leading CR or LF would be skipped as an empty line. */
const notHttp: fc.Arbitrary<RawRequest> = fc
  .uint8Array({ minLength: 1, maxLength: 300 })
  .filter((b) => b[0] !== 0x0d && b[0] !== 0x0a)
  .map((raw) => ({ method: 'RAW', target: '', headers: [], body: new Uint8Array(0), framing: 'none', raw }));

/** Whether `r` asks for a peer connection (answered 101 by a node, which then reads frames). */
export function isPeerUpgrade(r: RawRequest): boolean {
  return r.headers.some(([name, value]) => name === 'upgrade' && value === PEER_UPGRADE_PROTOCOL);
}

/**
 * A peer upgrade followed by frames no peer would send: garbage, any length prefix (up to 4 GiB)
 * with a few bytes, or a Hello with made-up fields (this run cannot know the cluster id).
 */
const peerGarbage: fc.Arbitrary<RawRequest> = fc
  .oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ maxLength: 64 })).map(([n, b]) => {
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(n);
      return Buffer.concat([prefix, b]);
    }),
    fc
      .record({
        version: fc.nat(5),
        clusterId: fc.stringMatching(/^[a-z0-9-]{0,12}$/),
        from: fc.constantFrom('n1', 'n2', 'n3', 'x'),
        to: fc.constantFrom('n1', 'n2', 'n3', 'x'),
      })
      .map((hello) => encodeHelloFrame(hello)),
  )
  .map((frames): RawRequest => {
    const headers: [string, string][] = [
      ['connection', 'Upgrade'],
      ['upgrade', PEER_UPGRADE_PROTOCOL],
    ];
    const head = encodeWhole({
      method: 'GET',
      target: '/',
      headers,
      body: new Uint8Array(0),
      framing: 'none',
    });
    return {
      method: 'GET',
      target: '/',
      headers,
      body: new Uint8Array(0),
      framing: 'none',
      raw: Buffer.concat([head, frames]),
    };
  });

/** Any request, well-formed or not, aimed at the client API. */
export const hostileRequest: fc.Arbitrary<RawRequest> = fc.oneof(
  { weight: 2, arbitrary: wellFormed },
  { weight: 8, arbitrary: garbled() },
  { weight: 1, arbitrary: truncated },
  { weight: 1, arbitrary: notHttp },
  { weight: 1, arbitrary: peerGarbage },
);

function garbled(): fc.Arbitrary<RawRequest> {
  return fc
    .record({
      method: methods,
      path,
      query,
      headers: fc.array(header, { maxLength: 4 }),
      body,
      framing: fc.constantFrom<Framing>('length', 'length', 'chunked', 'none'),
    })
    .map(({ method, path, query, headers, body, framing }) => ({
      method,
      target: `${path}${query}`,
      headers,
      body,
      // An unframed body would be read as the next request: keep it rare and small.
      framing: framing === 'none' && body.byteLength > 1024 ? 'length' : framing,
    }));
}
