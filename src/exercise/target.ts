// The cluster an exercise runs against: its nodes by id (each endpoint asked who it is), a cluster
// client over all of them, and — when `raftkv cluster` runs them — its supervisor's control API,
// found through DATA_DIR/supervisor.json, which kills, stops and restarts single nodes.

import { readFileSync } from 'node:fs';
import type { NodeAction, SupervisedNode } from '../api/supervisor.js';
import { type ClientOptions, ClusterClient, RaftkvApiError, RaftkvClient } from '../client/index.js';
import { PreconditionFailed } from './errors.js';

export interface ExerciseNode {
  readonly id: string;
  /** `http://host:port`. */
  readonly url: string;
  /** No kept-alive connections: the node may be killed and started again under it. */
  readonly client: RaftkvClient;
}

/** The supervisor's control API, on the exercise's node ids. */
export interface SupervisorHandle {
  readonly url: string;
  nodes(): Promise<SupervisedNode[]>;
  /** Does `action` to node `id`; resolves with the node as the supervisor then shows it. */
  act(id: string, action: NodeAction): Promise<SupervisedNode>;
}

export interface ExerciseTarget {
  readonly nodes: readonly ExerciseNode[];
  /** Over every node; writes carry an idempotency key, so its retries are safe. */
  readonly cluster: ClusterClient;
  readonly supervisor: SupervisorHandle | null;
  /** Where the supervisor is, or why there is none: for the narration. */
  readonly supervisorNote: string;
  node(id: string): ExerciseNode;
  close(): void;
}

export interface ConnectOptions {
  /** The nodes' URLs (`http://host:port`). */
  readonly endpoints: readonly string[];
  /** --token and the TLS files, for the nodes (or a caller's Authorization, in `headers`). */
  readonly client?: Pick<ClientOptions, 'token' | 'tls' | 'headers'>;
  /** supervisor.json; `required`: it was named, so it must be there (else: none is fine). */
  readonly supervisorFile?: { readonly path: string; readonly required: boolean } | null;
  /**
   * The supervisor already known (the supervisor itself runs the exercise), or known to be none
   * (`handle` null, `note` says why): supervisorFile is then not looked at.
   */
  readonly supervisor?: { readonly handle: SupervisorHandle | null; readonly note: string };
  /** Bound on each request made to find the nodes and the supervisor. */
  readonly timeoutMs?: number;
}

/** How to start a cluster every exercise can run on. */
const startHint = 'raftkv cluster --enable-faults (exercise 3: raftkv cluster --nodes 5 --enable-faults)';

const hostPort = (url: string): string => new URL(url).host.toLowerCase();

/** Asks every endpoint who it is; finds the supervisor. PreconditionFailed if a node does not answer. */
export async function connect(o: ConnectOptions): Promise<ExerciseTarget> {
  const timeoutMs = o.timeoutMs ?? 5000;
  const nodes = await Promise.all(
    o.endpoints.map(async (url): Promise<ExerciseNode> => {
      const client = new RaftkvClient(url, { ...o.client, keepAlive: false, timeoutMs });
      try {
        const s = await client.status();
        return { id: s.nodeId, url: client.url, client };
      } catch (e) {
        throw new PreconditionFailed(
          `${client.url} does not answer (${e instanceof Error ? e.message : String(e)}): every endpoint ` +
            `must run a node when the exercise starts. Start a cluster with: ${startHint}`,
        );
      }
    }),
  );
  const ids = new Set(nodes.map((n) => n.id));
  if (ids.size !== nodes.length) {
    throw new PreconditionFailed(
      `two endpoints are the same node (${nodes.map((n) => `${n.id} ${n.url}`).join(', ')})`,
    );
  }
  const found = o.supervisor ?? (await findSupervisor(o, nodes, timeoutMs));
  const cluster = new ClusterClient(
    nodes.map((n) => n.url),
    { ...o.client, keepAlive: false, timeoutMs: 10_000 },
  );
  return {
    nodes,
    cluster,
    supervisor: found.handle,
    supervisorNote: found.note,
    node(id) {
      const n = nodes.find((x) => x.id === id);
      if (n === undefined) throw new Error(`no node ${id}`);
      return n;
    },
    close() {
      cluster.close();
      for (const n of nodes) n.client.close();
    },
  };
}

async function findSupervisor(
  o: ConnectOptions,
  nodes: readonly ExerciseNode[],
  timeoutMs: number,
): Promise<{ handle: SupervisorHandle | null; note: string }> {
  const file = o.supervisorFile;
  if (file === undefined || file === null) return { handle: null, note: 'no supervisor was looked for' };
  const none = (note: string): { handle: null; note: string } => {
    if (file.required) throw new PreconditionFailed(note);
    return { handle: null, note };
  };
  let url: string;
  let token: string;
  try {
    const parsed: unknown = JSON.parse(readFileSync(file.path, 'utf8'));
    const p = parsed as { url?: unknown; token?: unknown };
    if (typeof p.url !== 'string' || typeof p.token !== 'string') throw new Error('no url and token in it');
    url = p.url;
    token = p.token;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return none(
      code === 'ENOENT'
        ? `no supervisor: ${file.path} is not there (raftkv cluster writes it)`
        : `no supervisor: ${file.path} cannot be used: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const control = new RaftkvClient(url, { keepAlive: false, timeoutMs, token });
  const call = async (method: string, path: string, within: number): Promise<unknown> => {
    const a = await control.send({ method, path }, { timeoutMs: within });
    if (a.status !== 200) throw new RaftkvApiError(method, path, a.status, a.body);
    return a.body;
  };
  let listed: SupervisedNode[];
  try {
    listed = (await call('GET', '/nodes', timeoutMs)) as SupervisedNode[];
  } catch (e) {
    return none(
      `no supervisor: the one ${file.path} names (${url}) does not answer: ` +
        `${e instanceof Error ? e.message : String(e)}`,
    );
  }
  // Its node ids are matched to ours by address: the supervisor must run these very nodes.
  const byAddress = new Map(listed.map((s) => [hostPort(s.url), s.id]));
  const theirs = new Map<string, string>();
  for (const n of nodes) {
    const id = byAddress.get(hostPort(n.url));
    if (id !== undefined) theirs.set(n.id, id);
  }
  if (theirs.size !== nodes.length) {
    return none(
      `no supervisor: the one ${file.path} names runs ${listed.map((s) => hostPort(s.url)).join(', ')}, ` +
        `not every endpoint given (${nodes.map((n) => hostPort(n.url)).join(', ')})`,
    );
  }
  const handle: SupervisorHandle = {
    url,
    nodes: async () => (await call('GET', '/nodes', timeoutMs)) as SupervisedNode[],
    // A stop or restart waits for the node to stop gracefully (SIGKILL after 10 s): time for it.
    act: async (id, action) =>
      (await call(
        'POST',
        `/nodes/${encodeURIComponent(theirs.get(id) ?? id)}/${action}`,
        30_000,
      )) as SupervisedNode,
  };
  return { handle, note: `the supervisor of raftkv cluster at ${url}` };
}
