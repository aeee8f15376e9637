// The control API of `raftkv cluster` (docs/cli.md, "Killing and restarting nodes"): a small
// HTTP server on loopback through which the exercises (`raftkv exercise`) and the dashboard (via
// a node's POST /ui/nodes/{id}/process) kill, stop and restart the nodes the supervisor runs —
// what `docker kill` and `docker start` do to a container — and through which the dashboard runs
// the exercises here, in the one process that outlives the nodes they kill (POST /exercises,
// GET /exercises/{run}, via a node's /ui/exercises). Every request needs the random token
// made at start (Authorization: Bearer); the URL and the token reach the nodes by their
// environment and the other commands by DATA_DIR/supervisor.json (mode 0600), never a command line.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import {
  BadRequestError,
  NotFoundError,
  RaftkvError,
  TooLargeError,
  UnauthenticatedError,
} from '../api/errors.js';
import { isNodeAction, type NodeAction, type SupervisedNode } from '../api/supervisor.js';
import { errorBody, statusFor } from '../server/status-map.js';
import { exerciseRunIn, parseExerciseBody } from '../server/validate.js';

export type { NodeAction, SupervisedNode } from '../api/supervisor.js';

/** What the control server asks of the supervisor. */
export interface ControlTarget {
  nodes(): SupervisedNode[];
  /**
   * Does `action` to node `id`; resolves with the node as it then is. Refuses with a RaftkvError
   * (NotSupervisedError, ShuttingDownError), answered with its status and the API's error body.
   */
  act(id: string, action: NodeAction): Promise<SupervisedNode>;
  /** The exercises run in the supervisor; without, their routes are 404. */
  readonly exercises?: ControlExercises;
}

/** What POST /exercises and GET /exercises/{run} ask of the supervisor (exercise-runs.ts). */
export interface ControlExercises {
  /** Starts exercise `n`: the run as it has begun. Throws a RaftkvError (409, 412) to refuse. */
  start(n: number): Promise<unknown>;
  /** Run `run` as far as it has got, or undefined. */
  get(run: string): unknown;
}

/** The largest body read (`{"exercise": N}` is a few bytes). */
const maxControlBody = 4096;

/** The environment variables that give a node its supervisor (read by `raftkv start`). */
export const supervisorEnv = { url: 'RAFTKV_SUPERVISOR_URL', token: 'RAFTKV_SUPERVISOR_TOKEN' } as const;

/** The file in the data dir that tells the other commands where the control API is. */
export const supervisorFileName = 'supervisor.json';

/** DATA_DIR/supervisor.json's content. */
export interface SupervisorFile {
  readonly url: string;
  readonly token: string;
  /** The supervisor's PID. */
  readonly pid: number;
  /** `--endpoints` of its nodes. */
  readonly endpoints: string;
}

/** A token no one can guess: 32 random bytes, base64url. */
export function newControlToken(): string {
  return randomBytes(32).toString('base64url');
}

const nodePath = /^\/nodes\/([^/]+)\/([a-z]+)$/;
const exercisePath = /^\/exercises\/([^/]+)$/;

export class ControlServer {
  private constructor(
    private readonly server: http.Server,
    /** `http://127.0.0.1:PORT`. */
    readonly url: string,
  ) {}

  /** Listens on 127.0.0.1:`port` (0: a free port). Rejects if the port cannot be had. */
  static async start(port: number, token: string, target: ControlTarget): Promise<ControlServer> {
    const expected = Buffer.from(`Bearer ${token}`);
    const server = http.createServer((req, res) => {
      handle(req, res, expected, target).catch((e: unknown) => {
        if (e instanceof RaftkvError) {
          reply(res, statusFor(e), errorBody(e));
          return;
        }
        // As a node answers an error of its own (http-server.ts).
        const message = e instanceof Error ? e.message : String(e);
        reply(res, 500, { error: `internal error: ${message}`, code: 'internal', definite: false });
      });
    });
    // Its answers are small and its callers few: no connection is kept waiting at exit.
    server.keepAliveTimeout = 1000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    const a = server.address();
    const bound = a !== null && typeof a === 'object' ? a.port : port;
    return new ControlServer(server, `http://127.0.0.1:${bound}`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  expected: Buffer,
  target: ControlTarget,
): Promise<void> {
  // Only POST /exercises reads its body, once the caller is known; the rest drain whatever comes.
  const body = readBody(req);
  body.catch(() => {}); // awaited only by POST /exercises
  const given = Buffer.from(req.headers.authorization ?? '');
  // Compared in constant time: the length alone says nothing of the token.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    res.setHeader('www-authenticate', 'Bearer realm="raftkv-supervisor"');
    throw new UnauthenticatedError(
      "the supervisor's control API needs its token (Authorization: Bearer TOKEN; see supervisor.json in the data dir)",
    );
  }
  const path = (req.url ?? '/').split('?')[0]!;
  if (path === '/nodes' && req.method === 'GET') {
    reply(res, 200, target.nodes());
    return;
  }
  const exercises = target.exercises;
  if (exercises !== undefined && path === '/exercises' && req.method === 'POST') {
    const n = parseExerciseBody(await body);
    reply(res, 202, await exercises.start(n));
    return;
  }
  const e = exercisePath.exec(path);
  if (exercises !== undefined && e !== null && req.method === 'GET') {
    const run = exerciseRunIn(e[1]!);
    const view = exercises.get(run);
    if (view === undefined) {
      throw new NotFoundError(`no exercise run "${run}" (the supervisor keeps the last few)`);
    }
    reply(res, 200, view);
    return;
  }
  const m = nodePath.exec(path);
  if (m === null || req.method !== 'POST' || !isNodeAction(m[2])) {
    throw new NotFoundError(`no route for ${req.method} ${path.slice(0, 100)}`);
  }
  let id: string;
  try {
    id = decodeURIComponent(m[1]!);
  } catch {
    throw new BadRequestError('the node id in the path is not valid URL-encoded UTF-8');
  }
  reply(res, 200, await target.act(id, m[2]));
}

/**
 * The request's body, up to maxControlBody (past it: drained, and a 413 for whoever reads it).
 * Read from the start, so a request refused before its body is looked at still drains it.
 */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= maxControlBody) chunks.push(c);
    });
    req.on('end', () =>
      size > maxControlBody
        ? reject(new TooLargeError(`the body is larger than ${maxControlBody} bytes`))
        : resolve(Buffer.concat(chunks)),
    );
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Writes DATA_DIR/supervisor.json, readable by its owner only (written whole under another name,
 * then renamed over it, so no reader sees half of it).
 */
export function writeSupervisorFile(dataDir: string, content: SupervisorFile): string {
  const file = join(dataDir, supervisorFileName);
  const part = `${file}.${process.pid}.part`;
  writeFileSync(part, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  chmodSync(part, 0o600); // a leftover file of that name keeps its mode otherwise
  renameSync(part, file);
  return file;
}

/**
 * Reads a supervisor.json (`file`: its path). Throws the read's error as it comes (ENOENT: there is
 * none), or an Error saying what is wrong with its content.
 */
export function readSupervisorFile(file: string): SupervisorFile {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const f = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const { url, token, pid, endpoints } = f;
  if (typeof url !== 'string' || typeof token !== 'string') throw new Error('no url and token in it');
  if (typeof pid !== 'number' || typeof endpoints !== 'string') throw new Error('no pid and endpoints in it');
  return { url, token, pid, endpoints };
}

export function removeSupervisorFile(file: string): void {
  rmSync(file, { force: true });
}
