// Backups in the tests: a backup file read back into a state machine, and a write load whose
// acknowledged writes say exactly what the state at any log index holds — so a backup taken while
// it runs can be checked key by key against the index it claims.

import assert from 'node:assert/strict';
import {
  type BackupHeader,
  BackupReader,
  checkBackupFile,
  expectIntact,
  type IntactBackup,
} from '../../src/backup/index.js';
import type { RaftkvClient } from '../../src/client/index.js';
import { KvStateMachine } from '../../src/kv/index.js';
import { WriteLoad } from './write-load.js';

export interface OpenedBackup {
  readonly check: IntactBackup;
  readonly header: BackupHeader;
  /** The state the file holds. */
  readonly sm: KvStateMachine;
}

function opened(check: IntactBackup, body: Uint8Array[]): OpenedBackup {
  const sm = KvStateMachine.restore(Buffer.concat(body));
  assert.equal(sm.lastApplied, check.header.index, "the state is at the header's index");
  assert.equal(sm.size, check.header.keyCount, "the header's key count is the state's");
  return { check, header: check.header, sm };
}

/** A backup file's bytes, checked and restored (assertion errors if it is not intact). */
export function openBackup(bytes: Uint8Array): OpenedBackup {
  const body: Uint8Array[] = [];
  const reader = new BackupReader((b) => body.push(b.slice()));
  reader.push(bytes);
  return opened(expectIntact(reader.finish()), body);
}

export async function openBackupFile(path: string): Promise<OpenedBackup> {
  const body: Uint8Array[] = [];
  const check = await checkBackupFile(path, (b) => body.push(b.slice()));
  return opened(expectIntact(check), body);
}

/**
 * Writers of unique keys under `prefix`, round-robin over `clients`; each write is retried with
 * its Idempotency-Key until it is acknowledged, so that the state at any index acknowledged is
 * known exactly (WriteLoad).
 */
export class AckedWrites extends WriteLoad {
  constructor(
    clients: readonly RaftkvClient[],
    private readonly prefix: string,
  ) {
    super({
      prefix,
      client: (w, n, attempt) => clients[(w + n + attempt) % clients.length],
      tries: 'until-acknowledged',
      timeoutMs: 5000,
      failurePauseMs: 25,
    });
  }

  /** Errors retried (a leader change, a node killed under the client). */
  get retries(): number {
    return this.failures;
  }

  /**
   * Asserts that `sm`'s keys under the prefix are exactly those acknowledged at or before `index`,
   * with their values: every earlier write is in, no later one.
   */
  assertStateAt(sm: KvStateMachine, index: number): void {
    const expected = new Map<string, string>();
    for (const [key, { value, index: at }] of this.acked) if (at <= index) expected.set(key, value);
    const held = new Map(sm.list(this.prefix, 10_000_000).items.map((i) => [i.key, i.value]));
    const missing = [...expected.keys()].filter((k) => held.get(k) !== expected.get(k));
    const extra = [...held.keys()].filter((k) => !expected.has(k));
    assert.deepEqual(
      { missing: missing.slice(0, 5), extra: extra.slice(0, 5) },
      { missing: [], extra: [] },
      `state at index ${index}: ${missing.length} acknowledged writes missing or different, ${extra.length} later ones present`,
    );
    assert.ok(
      [...this.acked.values()].some((w) => w.index > index),
      'some writes were acknowledged after the backup index (writes kept flowing)',
    );
  }
}
