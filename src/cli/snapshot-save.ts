// `raftkv snapshot save FILE`: a backup from the first endpoint that serves one, written so that
// FILE is either the previous one or a whole, verified new one (the client's saveBackup,
// src/client/backup-file.ts).

import type { IntactBackup } from '../backup/index.js';
import { BackupFailedError, RaftkvClient, saveBackup } from '../client/index.js';
import { clientOptionsOf } from './connection-options.js';
import { describeError, type Io } from './io.js';
import { exitCodes } from './kv-commands.js';
import type { SaveInvocation } from './snapshot-options.js';
import { printSnapshotResult } from './snapshot-output.js';

export interface SavedBackup {
  readonly file: string;
  readonly endpoint: string;
  readonly backup: IntactBackup;
}

/** Saves a backup into `inv.file` (src/client/backup-file.ts); throws with every endpoint's failure. */
export async function saveSnapshot(inv: SaveInvocation, note: (line: string) => void): Promise<SavedBackup> {
  const labels = new Map(
    inv.endpoints.map((e) => [
      new RaftkvClient(e.url, { keepAlive: false, ...clientOptionsOf(inv.credentials) }),
      e.label,
    ]),
  );
  const labelOf = (node: RaftkvClient): string => labels.get(node) ?? node.url;
  try {
    const saved = await saveBackup([...labels.keys()], inv.file, {
      idleTimeoutMs: inv.idleTimeoutMs,
      onFailure: (node, e) => note(`${labelOf(node)}: ${describeError(e)}; trying the next endpoint`),
    });
    return { file: saved.file, endpoint: labelOf(saved.node), backup: saved.backup };
  } catch (e) {
    if (!(e instanceof BackupFailedError)) throw e;
    throw new Error(e.failures.map((f) => `${labelOf(f.node)}: ${describeError(f.error)}`).join('; '));
  }
}

export async function runSnapshotSave(inv: SaveInvocation, io: Io): Promise<number> {
  let saved: SavedBackup;
  try {
    saved = await saveSnapshot(inv, (line) => io.err(`raftkv: ${line}\n`));
  } catch (e) {
    io.err(`raftkv: snapshot save failed: ${describeError(e)}\n`);
    return exitCodes.failed;
  }
  const { header: h, bytes, sha256 } = saved.backup;
  printSnapshotResult(
    io,
    inv.json,
    {
      file: saved.file,
      index: h.index,
      term: h.term,
      keys: h.keyCount,
      bytes,
      sha256,
      clusterId: h.clusterId,
      nodeId: h.nodeId,
      endpoint: saved.endpoint,
    },
    `saved ${saved.file}: index ${h.index}, ${h.keyCount} keys, ${bytes} bytes (verified; from ${saved.endpoint})\n`,
  );
  return exitCodes.ok;
}
