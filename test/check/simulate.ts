// A seeded simulation of clients running ops back to back against an atomic store, producing
// run-sized histories that are linearizable by construction.

import type { KvOp } from '../../src/check/index.js';
import { Prng } from '../../src/random.js';

interface Planned {
  readonly id: number;
  readonly process: string;
  readonly key: string;
  readonly kind: KvOp['kind'];
  readonly invokedAt: number;
  readonly applyAt: number;
  readonly completedAt: number;
  readonly fate: 'ok' | 'info-applied' | 'info-lost' | 'rejected';
}

export interface Workload {
  readonly seed: number;
  readonly clients: number;
  readonly keys: number;
  readonly ops: number;
  /** Fraction of ops that end indeterminate; half of those take effect. */
  readonly infoRate: number;
  /** Fraction of ops the server rejects outright. */
  readonly rejectRate: number;
}

/**
 * Clients issuing ops back to back against an atomic store; outcomes are what they would see.
 * A client whose op ends indeterminate continues under a fresh process id, as a runner must.
 */
export function simulate(w: Workload): KvOp[] {
  const { clients, keys, ops: total, infoRate, rejectRate } = w;
  const random = new Prng(w.seed);
  const rand = (): number => random.next();
  const int = (n: number): number => random.nextInt(n);
  const planned: Planned[] = [];
  const perClient = total / clients;
  for (let c = 0; c < clients; c++) {
    let t = int(10);
    let generation = 0;
    for (let k = 0; k < perClient; k++) {
      const r = rand();
      const kind = r < 0.5 ? 'get' : r < 0.75 ? 'put' : r < 0.95 ? 'cas' : 'delete';
      const f = rand();
      const fate =
        f < infoRate / 2
          ? 'info-applied'
          : f < infoRate
            ? 'info-lost'
            : f < infoRate + rejectRate
              ? 'rejected'
              : 'ok';
      const invokedAt = t + int(5);
      const completedAt = invokedAt + 1 + int(40);
      // An indeterminate op may take effect well after its client gave up.
      const applyAt =
        fate === 'info-applied' ? invokedAt + int(200) : invokedAt + int(completedAt - invokedAt + 1);
      const process = `${c}.${generation}`;
      planned.push({
        id: planned.length + 1,
        process,
        key: `k${int(keys)}`,
        kind,
        invokedAt,
        applyAt,
        completedAt,
        fate,
      });
      if (fate === 'info-applied' || fate === 'info-lost') generation++; // a fresh process takes over
      t = completedAt;
    }
  }
  const store = new Map<string, string>();
  const ops: KvOp[] = [];
  for (const p of [...planned].sort((a, b) => a.applyAt - b.applyAt || a.id - b.id)) {
    const base = {
      id: p.id,
      process: p.process,
      key: p.key,
      invokedAt: p.invokedAt,
      completedAt: p.completedAt,
    };
    const current = store.get(p.key) ?? null;
    const info = p.fate === 'info-applied' || p.fate === 'info-lost';
    const outcome = info ? { type: 'info' as const } : { type: 'fail' as const, error: '503' };
    const applies = p.fate === 'ok' || p.fate === 'info-applied';
    const value = `v${p.id}`;
    switch (p.kind) {
      case 'get':
        ops.push({
          ...base,
          kind: 'get',
          outcome: p.fate === 'ok' ? { type: 'ok', value: current } : outcome,
        });
        break;
      case 'put':
        if (applies) store.set(p.key, value);
        ops.push({ ...base, kind: 'put', value, outcome: p.fate === 'ok' ? { type: 'ok' } : outcome });
        break;
      case 'cas': {
        // Usually from the current value, as a read-modify-write client would; sometimes stale.
        const prevValue = rand() < 0.7 ? current : rand() < 0.5 ? null : `v${Math.max(1, p.id - int(50))}`;
        const holds = prevValue === current;
        if (applies && holds) store.set(p.key, value);
        const seen = holds ? { type: 'ok' as const } : { type: 'fail' as const, precondition: true };
        ops.push({ ...base, kind: 'cas', prevValue, value, outcome: p.fate === 'ok' ? seen : outcome });
        break;
      }
      case 'delete':
        if (applies) store.delete(p.key);
        ops.push({
          ...base,
          kind: 'delete',
          outcome: p.fate === 'ok' ? { type: 'ok', existed: current !== null } : outcome,
        });
        break;
    }
  }
  return ops.sort((a, b) => a.id - b.id);
}
