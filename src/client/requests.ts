// The wire form of every call of the HTTP API (docs/api.md): method, path with its query, JSON
// body, Idempotency-Key. Pure; the client sends these, and so do the tools that need the raw
// answer (the CLI prints it, the Jepsen runner classifies it).

/** docs/read-modes.md has each level's guarantee. */
export type Consistency = 'linearizable' | 'lease' | 'stale';

export interface ApiRequest {
  readonly method: string;
  /** Path and query, starting with `/`, percent-encoded. */
  readonly path: string;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Writes: a retry with the same key is applied at most once. */
  readonly idempotencyKey?: string;
}

/** A transaction in its wire form (docs/api.md, "Transactions"). */
export interface TxnBody {
  readonly compare?: readonly {
    readonly key: string;
    readonly target: 'value' | 'version' | 'createIndex' | 'modIndex' | 'exists';
    readonly op: '==' | '!=' | '<' | '>';
    readonly value: string | number | boolean;
  }[];
  readonly success?: readonly TxnBodyOp[];
  readonly failure?: readonly TxnBodyOp[];
}

export type TxnBodyOp =
  | { readonly put: { readonly key: string; readonly value: string; readonly lease?: number } }
  | { readonly delete: { readonly key: string } }
  | { readonly get: { readonly key: string } };

/** Any request of the API's shape, with headers or a body of one's own. */
export interface RawRequest extends ApiRequest {
  /** Sent as is, instead of `body` as JSON (with content-type application/json unless set). */
  readonly rawBody?: string | Uint8Array;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
}

export interface WriteOptions {
  readonly idempotencyKey?: string;
}

export interface PutOptions extends WriteOptions {
  /** Compare-and-set: write only if the current value is this; null: only if the key is absent. */
  readonly prevValue?: string | null;
  /** Ties the key to this lease: it is deleted when the lease ends (docs/leases.md). */
  readonly lease?: number;
}

export interface ReadOptions {
  /** Default (left out of the request): linearizable. */
  readonly consistency?: Consistency;
  /**
   * Answered only once the node has applied this log index — give the `index` an earlier write
   * answered with to read your own writes on any node (504 if it does not get there in time).
   */
  readonly minIndex?: number;
}

export interface ListOptions extends ReadOptions {
  /** At most this many keys (the server's default is 1000, its maximum 10000). */
  readonly limit?: number;
  /** The page starts after this key: give the last key of the previous page (with `more: true`). */
  readonly startAfter?: string;
}

const keyPath = (key: string): string => `/kv/${encodeURIComponent(key)}`;

/** `readQuery` as a query string; most reads name neither, and get no URLSearchParams (every get's path). */
function readQueryString(options: ReadOptions): string {
  if (options.consistency === undefined && options.minIndex === undefined) return '';
  return readQuery(options).toString();
}

/** `consistency` and `minIndex`, when given. */
function readQuery(options: ReadOptions): URLSearchParams {
  const q = new URLSearchParams();
  if (options.consistency !== undefined) q.set('consistency', options.consistency);
  if (options.minIndex !== undefined) q.set('minIndex', String(options.minIndex));
  return q;
}
const withKey = (idempotencyKey: string | undefined) =>
  idempotencyKey === undefined ? {} : { idempotencyKey };

export const apiRequests = {
  /** POST /kv: a put, or a compare-and-set with `prevValue`. */
  put(key: string, value: string, options: PutOptions = {}): ApiRequest {
    const body = {
      key,
      value,
      ...(options.prevValue !== undefined && { prevValue: options.prevValue }),
      ...(options.lease !== undefined && { lease: options.lease }),
    };
    return { method: 'POST', path: '/kv', body, ...withKey(options.idempotencyKey) };
  },

  /**
   * POST /txn with a body as the API takes it: `{"compare": [...], "success": [...],
   * "failure": [...]}` (docs/api.md); the server checks it.
   */
  txn(body: TxnBody, options: WriteOptions = {}): ApiRequest {
    return { method: 'POST', path: '/txn', body, ...withKey(options.idempotencyKey) };
  },

  /** GET /kv/{key} */
  get(key: string, options: ReadOptions = {}): ApiRequest {
    const q = readQueryString(options);
    return { method: 'GET', path: `${keyPath(key)}${q === '' ? '' : `?${q}`}` };
  },

  /** DELETE /kv/{key} */
  delete(key: string, options: WriteOptions = {}): ApiRequest {
    return { method: 'DELETE', path: keyPath(key), ...withKey(options.idempotencyKey) };
  },

  /** GET /kv?prefix=p&limit=n */
  list(prefix: string, options: ListOptions = {}): ApiRequest {
    const q = new URLSearchParams({ prefix });
    if (options.limit !== undefined) q.set('limit', String(options.limit));
    if (options.startAfter !== undefined) q.set('startAfter', options.startAfter);
    for (const [name, value] of readQuery(options)) q.set(name, value);
    return { method: 'GET', path: `/kv?${q.toString()}` };
  },

  /** GET /debug: the node's status. */
  status(): ApiRequest {
    return { method: 'GET', path: '/debug' };
  },

  health(): ApiRequest {
    return { method: 'GET', path: '/health' };
  },

  livez(): ApiRequest {
    return { method: 'GET', path: '/livez' };
  },

  readyz(): ApiRequest {
    return { method: 'GET', path: '/readyz' };
  },

  /** GET /metrics: the Prometheus text exposition. */
  metrics(): ApiRequest {
    return { method: 'GET', path: '/metrics' };
  },

  /** POST /admin/snapshot: snapshot this node's state now and compact its log. */
  snapshot(): ApiRequest {
    return { method: 'POST', path: '/admin/snapshot' };
  },

  /** GET /admin/snapshot: a backup of the whole state (a stream: see RaftkvClient.backup). */
  backup(): ApiRequest {
    return { method: 'GET', path: '/admin/snapshot' };
  },

  /** GET /admin/alarms: the space rules in force. */
  alarms(): ApiRequest {
    return { method: 'GET', path: '/admin/alarms' };
  },

  /** GET /cluster/members: the committed membership (linearizable unless `stale`). */
  members(options: ReadOptions = {}): ApiRequest {
    const q = options.consistency === undefined ? '' : `?consistency=${options.consistency}`;
    return { method: 'GET', path: `/cluster/members${q}` };
  },

  /** POST /cluster/members: add a learner, promoted once caught up unless `learner`. */
  addMember(id: string, address: string, options: { readonly learner?: boolean } = {}): ApiRequest {
    return {
      method: 'POST',
      path: '/cluster/members',
      body: { id, address, learner: options.learner === true },
    };
  },

  /** POST /cluster/members/{id}/promote */
  promoteMember(id: string): ApiRequest {
    return { method: 'POST', path: `/cluster/members/${encodeURIComponent(id)}/promote` };
  },

  /** DELETE /cluster/members/{id} */
  removeMember(id: string): ApiRequest {
    return { method: 'DELETE', path: `/cluster/members/${encodeURIComponent(id)}` };
  },

  /** POST /cluster/leader: move leadership to `to`, or (none) to the most caught-up voter. */
  moveLeader(to?: string): ApiRequest {
    return { method: 'POST', path: '/cluster/leader', body: to === undefined ? {} : { to } };
  },

  /** POST /leases: a new lease of `ttl` seconds. */
  leaseGrant(ttl: number): ApiRequest {
    return { method: 'POST', path: '/leases', body: { ttl } };
  },

  /** POST /leases/{id}/keepalive: its TTL starts again. */
  leaseKeepalive(id: number): ApiRequest {
    return { method: 'POST', path: `/leases/${id}/keepalive` };
  },

  /** DELETE /leases/{id}: ends it now and deletes its keys. */
  leaseRevoke(id: number): ApiRequest {
    return { method: 'DELETE', path: `/leases/${id}` };
  },

  /** GET /leases/{id}: its TTL, the seconds left, its keys. */
  leaseInfo(id: number, options: ReadOptions = {}): ApiRequest {
    const q = readQueryString(options);
    return { method: 'GET', path: `/leases/${id}${q === '' ? '' : `?${q}`}` };
  },

  /** POST /admin/alarms: raise or clear a node's no-space alarm. */
  setAlarm(node: string, active: boolean): ApiRequest {
    return { method: 'POST', path: '/admin/alarms', body: { node, alarm: 'no_space', active } };
  },
} as const;
