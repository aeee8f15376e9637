// A real `raftkv cluster` process of the built CLI, as a user runs it, with its control API: the
// supervisor's PID, its data dir, its supervisor.json read once written, a client per node and
// one for the control API. Cleanup (registered at creation) stops the supervisor by its PID —
// its nodes stop with it, or by themselves once its end of their stdin closes — waits until no
// node answers, and removes the temp dir.

import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  readSupervisorFile,
  type SupervisedNode,
  type SupervisorFile,
} from '../../src/cli/supervisor-control.js';
import type { Answer, RaftkvClient } from '../../src/client/index.js';
import { CliProcess } from './cli.js';
import { testClient } from './http.js';
import { testTiming, timingArgs } from './node-process.js';
import { freeConsecutivePorts, LOOPBACK } from './ports.js';
import { StopWaiting, waitFor } from './wait.js';

export interface SupervisedClusterOptions {
  readonly size?: number;
  /** More `raftkv cluster` flags (e.g. --enable-faults). */
  readonly args?: readonly string[];
}

export class SupervisedCluster {
  readonly ids: string[];
  readonly clients: Map<string, RaftkvClient>;
  /** Set once the supervisor has written it (start() waits for it). */
  file: SupervisorFile | null = null;

  private constructor(
    readonly root: string,
    readonly base: number,
    readonly process: CliProcess,
    size: number,
  ) {
    this.ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
    this.clients = new Map(this.ids.map((id, i) => [id, testClient(`http://${LOOPBACK}:${base + i}`, 3000)]));
  }

  static async start(
    t: { after: (fn: () => Promise<void>) => void },
    options: SupervisedClusterOptions = {},
  ): Promise<SupervisedCluster> {
    const size = options.size ?? 3;
    const root = await mkdtemp(path.join(os.tmpdir(), 'raftkv-supervised-'));
    const base = await freeConsecutivePorts(size);
    const p = new CliProcess([
      'cluster',
      '--nodes',
      String(size),
      '--base-port',
      String(base),
      '--data-dir',
      path.join(root, 'data'),
      ...timingArgs(testTiming),
      ...(options.args ?? []),
    ]);
    const c = new SupervisedCluster(root, base, p, size);
    t.after(() => c.cleanup());
    await waitFor(
      'supervisor.json',
      async () => {
        c.alive();
        c.file = readSupervisorFile(c.supervisorFile);
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    return c;
  }

  get dataDir(): string {
    return path.join(this.root, 'data');
  }

  get supervisorFile(): string {
    return path.join(this.dataDir, 'supervisor.json');
  }

  endpoints(): string {
    return this.ids.map((_, i) => `${LOOPBACK}:${this.base + i}`).join(',');
  }

  client(id: string): RaftkvClient {
    const c = this.clients.get(id);
    if (c === undefined) throw new Error(`no node ${id}`);
    return c;
  }

  /** Throws StopWaiting (ends a wait at once) with the supervisor's output if it has exited. */
  alive(): void {
    if (!this.process.running) throw new StopWaiting(`raftkv cluster exited:\n${this.process.output()}`);
  }

  /** The control API, with its token unless `token` says otherwise. */
  control(token: string | null = this.file!.token): RaftkvClient {
    return testClient(this.file!.url, 30_000, token ?? undefined);
  }

  async nodes(): Promise<SupervisedNode[]> {
    const a = await this.control().send({ method: 'GET', path: '/nodes' });
    if (a.status !== 200) throw new Error(`GET /nodes: ${a.status} ${a.text}`);
    return a.body as SupervisedNode[];
  }

  act(id: string, action: 'kill' | 'stop' | 'restart'): Promise<Answer> {
    return this.control().send({ method: 'POST', path: `/nodes/${id}/${action}` });
  }

  /** The leader all running nodes agree on. */
  async waitForLeader(
    among: readonly string[] = this.ids,
    afterTerm = 0,
  ): Promise<{ id: string; term: number }> {
    return waitFor(
      `a leader among ${among.join(',')}`,
      async (note) => {
        this.alive();
        const infos = await Promise.all(among.map((id) => this.client(id).status({ timeoutMs: 1000 })));
        note(infos.map((d) => `${d.nodeId}: ${d.state} t${d.term} leader ${d.leaderId}`));
        const l = infos.find((d) => d.state === 'leader' && d.term > afterTerm);
        return l !== undefined && infos.every((d) => d.leaderId === l.nodeId)
          ? { id: l.nodeId, term: l.term }
          : null;
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
  }

  async fileMode(): Promise<number> {
    return (await stat(this.supervisorFile)).mode & 0o777;
  }

  private async cleanup(): Promise<void> {
    await this.process.stop().catch(() => undefined);
    try {
      await waitFor(
        'every node stopped',
        async () => {
          const up = await Promise.all(
            [...this.clients.values()].map((c) =>
              c.status({ timeoutMs: 1000 }).then(
                () => true,
                () => false,
              ),
            ),
          );
          return up.every((u) => !u);
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
    } finally {
      for (const c of this.clients.values()) c.close();
      await rm(this.root, { recursive: true, force: true });
    }
  }
}
