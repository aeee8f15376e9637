// A 3-member etcd cluster of real processes on 127.0.0.1 for the benchmarks that set raftkv next to
// etcd: Debian's etcd-server (3.4), fsync on, its default timing (heartbeat 100 ms, election
// timeout 1 s) and --snapshot-count, its data in a fresh temp dir, spoken to through its v3 JSON
// gateway (keys and values in base64). It can kill every member with SIGKILL and start them again
// on the same data dirs. Every member is tracked by the reaper and stopped by PID; the temp dir is
// removed. Not part of the tests.

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { type Answer, type ApiRequest, RaftkvClient } from '../src/client/index.js';
import { freePorts, LOOPBACK } from '../test/support/ports.js';
import { StopWaiting, waitFor } from '../test/support/wait.js';
import { killPid, log, type Member, type Reaper, stopChildren } from './common.js';

function onPath(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const p = path.join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** The etcd binary: `explicit`, else `etcd` on PATH, else Debian's etcd-server installed now (as root). */
export function findEtcd(explicit: string | undefined): string {
  if (explicit !== undefined) {
    accessSync(explicit, constants.X_OK);
    return explicit;
  }
  const found = onPath('etcd');
  if (found !== null) return found;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && onPath('apt-get') !== null) {
    log(
      "etcd is not on PATH: installing Debian's etcd-server (apt-get update && apt-get install -y etcd-server)",
    );
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [['update'], ['install', '-y', 'etcd-server']]) {
      const r = spawnSync('apt-get', args, { stdio: ['ignore', 2, 2], env });
      if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${r.status})`);
    }
    const installed = onPath('etcd');
    if (installed !== null) return installed;
    throw new Error('etcd-server was installed but no etcd is on PATH');
  }
  throw new Error(
    'etcd is not on PATH. Install it with `sudo apt-get install etcd-server` (Debian/Ubuntu), or put ' +
      'an etcd binary on PATH, or pass --etcd /path/to/etcd.',
  );
}

export function etcdVersion(bin: string): string {
  try {
    const out = execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    return /etcd Version:\s*(\S+)/.exec(out)?.[1] ?? out.split('\n')[0]!.trim();
  } catch (e) {
    return `unknown (${e instanceof Error ? e.message : String(e)})`;
  }
}

// ---------------------------------------------------------------------------------------------
// The v3 JSON gateway's requests (as `raftkv bench --target etcd` sends them)

const b64 = (s: string): string => Buffer.from(s).toString('base64');

export const etcdRequests = {
  put(key: string, value: string): ApiRequest {
    return { method: 'POST', path: '/v3/kv/put', body: { key: b64(key), value: b64(value) } };
  },
  /** `serializable: false` is etcd's linearizable read (through the leader's ReadIndex). */
  get(key: string): ApiRequest {
    return { method: 'POST', path: '/v3/kv/range', body: { key: b64(key), serializable: false } };
  },
  /** How many keys this member holds, answered from its own state (no round to the leader). */
  countLocal(): ApiRequest {
    // key "\0" with range_end "\0": every key.
    return {
      method: 'POST',
      path: '/v3/kv/range',
      body: { key: 'AA==', range_end: 'AA==', count_only: true, serializable: true },
    };
  },
  status(): ApiRequest {
    return { method: 'POST', path: '/v3/maintenance/status', body: {} };
  },
} as const;

/** The value of the first key in a range answer, decoded, or undefined. */
export function rangeValue(body: unknown): string | undefined {
  const kvs = (body as { kvs?: { value?: unknown }[] } | null)?.kvs;
  const v = Array.isArray(kvs) ? kvs[0]?.value : undefined;
  return typeof v === 'string' ? Buffer.from(v, 'base64').toString() : undefined;
}

/** Answers etcd's gateway gives while a leader is missing or busy: try again. */
export function etcdRetryable(status: number): boolean {
  // 429: "too many requests" (applying lags committing), 503: no leader / leader changed,
  // 504: timed out, 500: etcdserver errors the gateway does not map (seen around elections).
  return status === 429 || status === 500 || status === 503 || status === 504;
}

// ---------------------------------------------------------------------------------------------
// The cluster

interface EtcdMember {
  readonly name: string;
  /** `host:port` of its client URL (the gateway, /health and /metrics). */
  readonly endpoint: string;
  readonly dataDir: string;
  readonly args: readonly string[];
  readonly logPath: string;
  readonly client: RaftkvClient;
  child: ChildProcess | null;
}

export class EtcdCluster {
  private cleaned = false;

  private constructor(
    private readonly reaper: Reaper,
    private readonly bin: string,
    /** The temp dir: every member's data dir and log. */
    readonly root: string,
    private readonly list: readonly EtcdMember[],
  ) {}

  /** Starts 3 members on fresh loopback ports and a fresh temp dir; resolves once all are healthy. */
  static async start(reaper: Reaper, bin: string, prefix: string, timeoutMs = 60_000): Promise<EtcdCluster> {
    const root = reaper.tempDir(prefix);
    const ports = await freePorts(6);
    const names = ['e1', 'e2', 'e3'];
    const peerUrl = (i: number) => `http://${LOOPBACK}:${ports[3 + i]}`;
    const clientUrl = (i: number) => `http://${LOOPBACK}:${ports[i]}`;
    const initialCluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
    const token = `${path.basename(root)}-${process.pid}`;
    const list = names.map((name, i): EtcdMember => {
      const dataDir = path.join(root, name);
      // On a restart the same flags: etcd ignores the --initial-cluster* ones once its data dir
      // holds a member, and recovers from its snapshot and WAL.
      const args = [
        '--name',
        name,
        '--data-dir',
        dataDir,
        '--listen-client-urls',
        clientUrl(i),
        '--advertise-client-urls',
        clientUrl(i),
        '--listen-peer-urls',
        peerUrl(i),
        '--initial-advertise-peer-urls',
        peerUrl(i),
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        token,
        '--logger',
        'zap',
        '--log-level',
        'warn',
      ];
      const endpoint = `${LOOPBACK}:${ports[i]}`;
      return {
        name,
        endpoint,
        dataDir,
        args,
        logPath: path.join(root, `${name}.log`),
        client: new RaftkvClient(endpoint, { timeoutMs: 10_000 }),
        child: null,
      };
    });
    const cluster = new EtcdCluster(reaper, bin, root, list);
    reaper.after(() => cluster.cleanup());
    cluster.spawnAll();
    await Promise.all(cluster.names.map((n) => cluster.waitHealthy(n, timeoutMs)));
    return cluster;
  }

  get names(): string[] {
    return this.list.map((m) => m.name);
  }

  private member(name: string): EtcdMember {
    const m = this.list.find((x) => x.name === name);
    if (m === undefined) throw new Error(`no etcd member ${name}`);
    return m;
  }

  endpoint(name: string): string {
    return this.member(name).endpoint;
  }

  dataDir(name: string): string {
    return this.member(name).dataDir;
  }

  pid(name: string): number | undefined {
    return this.member(name).child?.pid;
  }

  running(name: string): boolean {
    const c = this.member(name).child;
    return c !== null && c.exitCode === null && c.signalCode === null;
  }

  members(): Member[] {
    return this.list.map((m) => ({ name: m.name, endpoint: m.endpoint, pid: m.child?.pid }));
  }

  send(name: string, req: ApiRequest, timeoutMs?: number): Promise<Answer> {
    return this.member(name).client.send(req, timeoutMs === undefined ? {} : { timeoutMs });
  }

  /** GET /health = 200 with `"health":"true"` (a leader known, a read through it answered). */
  async healthy(name: string, timeoutMs = 5000): Promise<boolean> {
    const r = await this.member(name).client.send({ method: 'GET', path: '/health' }, { timeoutMs });
    return r.status === 200 && (r.body as { health?: unknown } | null)?.health === 'true';
  }

  async waitHealthy(name: string, timeoutMs: number): Promise<void> {
    await waitFor(
      `etcd ${name} healthy`,
      async () => {
        if (!this.running(name)) throw new StopWaiting(`etcd ${name} exited:\n${this.tail(name)}`);
        return this.healthy(name);
      },
      { timeoutMs, intervalMs: 50 },
    );
  }

  /** The member that says it leads (its status's member id is the leader's). */
  leader(timeoutMs = 30_000): Promise<string> {
    return waitFor(
      'an etcd leader',
      async () => {
        for (const m of this.list) {
          const r = await m.client.send(etcdRequests.status(), { timeoutMs: 3000 }).catch(() => null);
          // member ids are uint64s, in the JSON gateway decimal strings.
          const s =
            r?.status === 200 ? (r.body as { header?: { member_id?: string }; leader?: string }) : null;
          if (s?.header?.member_id !== undefined && s.header.member_id === s.leader) return m.name;
        }
        return null;
      },
      { timeoutMs, intervalMs: 50 },
    );
  }

  /** Keys a member holds (a local, serializable count). */
  async keyCount(name: string): Promise<number> {
    const r = await this.send(name, etcdRequests.countLocal(), 30_000);
    if (r.status !== 200) throw new Error(`etcd ${name} count: ${r.status} ${r.text.slice(0, 200)}`);
    // int64 as a decimal string, left out when 0.
    return Number((r.body as { count?: string } | null)?.count ?? 0);
  }

  /** Every member holds exactly `n` keys (followers apply a moment after the leader). */
  async waitKeyCount(n: number, timeoutMs: number, when: string): Promise<void> {
    await waitFor(
      `${when}: ${n} keys on every etcd member`,
      async (note) => {
        const counts = await Promise.all(this.names.map((name) => this.keyCount(name)));
        note(this.names.map((name, i) => `${name}=${counts[i]}`).join(', '));
        return counts.every((c) => c === n);
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** GET /metrics: the Prometheus text exposition. */
  async metrics(name: string): Promise<string> {
    const r = await this.send(name, { method: 'GET', path: '/metrics' }, 10_000);
    if (r.status !== 200) throw new Error(`etcd ${name} /metrics: ${r.status}`);
    return r.text;
  }

  /** Spawns every member that is not running (on its data dir: a restart once it holds data). */
  spawnAll(): void {
    for (const m of this.list) {
      if (this.running(m.name)) continue;
      if (m.child !== null) this.reaper.children.delete(m.child);
      const fd = openSync(m.logPath, 'a');
      const child = spawn(this.bin, m.args, { stdio: ['ignore', fd, fd] });
      closeSync(fd);
      child.on('error', (e) => log(`etcd ${m.name}: ${e.message}`));
      this.reaper.children.add(child);
      m.child = child;
    }
  }

  /** SIGKILL to every running member, by PID; resolves once all have exited. */
  async kill9All(): Promise<void> {
    const live = this.list.flatMap((m) => (m.child !== null && this.running(m.name) ? [m.child] : []));
    const exits = live.map((c) => new Promise<void>((r) => c.once('close', () => r())));
    for (const c of live) killPid(c.pid, 'SIGKILL');
    await Promise.all(exits);
  }

  /** The last lines of a member's log. */
  tail(name: string, lines = 15): string {
    try {
      return readFileSync(this.member(name).logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  diagnostics(lines = 20): string {
    return this.list
      .map(
        (m) =>
          `== etcd ${m.name} (${this.running(m.name) ? `running, pid ${m.child?.pid}` : 'not running'}; ${m.dataDir})\n${this.tail(m.name, lines)}`,
      )
      .join('\n');
  }

  /** Stops every member (SIGTERM by PID, SIGKILL after 5 s) and removes the temp dir; safe to call twice. */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    await stopChildren(
      this.reaper,
      this.list.flatMap((m) => (m.child === null ? [] : [m.child])),
      5_000,
    );
    for (const m of this.list) m.client.close();
    rmSync(this.root, { recursive: true, force: true });
    this.reaper.tempDirs.delete(this.root);
  }
}
