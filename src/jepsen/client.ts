// One HTTP exchange with a node, classified the way the history needs it:
//   answered   — the node replied (status and JSON body);
//   unsent     — the connection was never established (refused, unreachable, connect timeout):
//                the request certainly did not reach the node, so it is a definite failure;
//   lost       — the request may have reached the node but no answer came (timeout, reset):
//                indeterminate.
// A fresh connection per request (no keep-alive), so that a reset of a reused idle socket is
// never mistaken for an answer, and a dead node is seen as refused at once.

import http from 'node:http';

export type Exchange =
  | { readonly kind: 'answered'; readonly status: number; readonly body: unknown }
  | { readonly kind: 'unsent'; readonly error: string }
  | { readonly kind: 'lost'; readonly error: string };

export interface RequestSpec {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** e.g. http://10.77.0.11:7000 */
  readonly base: string;
  readonly path: string;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

export function exchange(spec: RequestSpec): Promise<Exchange> {
  return new Promise((resolve) => {
    const payload = spec.body === undefined ? undefined : Buffer.from(JSON.stringify(spec.body));
    const headers: Record<string, string> = { ...spec.headers };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    let connected = false;
    let settled = false;
    const finish = (e: Exchange): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(e);
    };
    const req = http.request(`${spec.base}${spec.path}`, { method: spec.method, headers, agent: false });
    const timer = setTimeout(() => {
      finish(
        connected
          ? { kind: 'lost', error: `timeout after ${spec.timeoutMs} ms` }
          : { kind: 'unsent', error: 'connect timeout' },
      );
      req.destroy();
    }, spec.timeoutMs);
    req.on('socket', (socket) => {
      if (!socket.connecting) connected = true;
      else socket.once('connect', () => (connected = true));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const what = err.code ?? err.message;
      finish(connected ? { kind: 'lost', error: what } : { kind: 'unsent', error: what });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err: NodeJS.ErrnoException) =>
        finish({ kind: 'lost', error: err.code ?? err.message }),
      );
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = null;
        try {
          body = text === '' ? null : JSON.parse(text);
        } catch {
          body = text;
        }
        finish({ kind: 'answered', status: res.statusCode ?? 0, body });
      });
    });
    req.end(payload);
  });
}

export function field(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)[name]
    : undefined;
}

/** An error answer's description for the history, e.g. "503 no_leader". */
export function describeAnswer(status: number, body: unknown): string {
  const code = field(body, 'code');
  return typeof code === 'string' ? `${status} ${code}` : String(status);
}

/** Whether an error answer says the operation certainly did not take effect. */
export function definiteFailure(status: number, body: unknown): boolean {
  if (status === 400 || status === 404 || status === 409 || status === 413) return true;
  return field(body, 'definite') === true;
}
