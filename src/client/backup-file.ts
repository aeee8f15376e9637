// A backup saved to a file so that the file is either what it was or a whole, verified new backup:
// streamed into FILE.part, fsynced, read back and checked (its hash, and that it is what the node
// announced), renamed over FILE, the directory fsynced. A node that fails — before or during the
// stream — is followed by the next, from the start; a failure of this machine's file system ends
// it (the next node cannot help).

import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { checkBackupFile, expectIntact, type IntactBackup } from '../backup/index.js';
import type { BackupResult, RaftkvClient } from './client.js';
import { RaftkvApiError, RaftkvConnectionError } from './errors.js';

export interface SaveBackupOptions {
  /** Give up on a node when nothing arrives for this long (default: the node client's timeoutMs). */
  readonly idleTimeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Told of each node that failed before the next is tried. */
  readonly onFailure?: (node: RaftkvClient, error: unknown) => void;
}

export interface SavedBackup {
  readonly file: string;
  /** The node that served it. */
  readonly node: RaftkvClient;
  /** The file as read back: its header (index, term, keys, cluster and node ids), bytes, SHA-256. */
  readonly backup: IntactBackup;
}

/** Every node failed; `failures` has each one's error, in order. */
export class BackupFailedError extends Error {
  override name = 'BackupFailedError';
  constructor(readonly failures: readonly { readonly node: RaftkvClient; readonly error: unknown }[]) {
    super(
      failures
        .map((f) => `${f.node.url}: ${f.error instanceof Error ? f.error.message : String(f.error)}`)
        .join('; '),
    );
  }
}

/** A failure of this machine's file system (ENOSPC, EACCES ...). */
function isLocal(e: unknown): boolean {
  if (e instanceof RaftkvApiError || e instanceof RaftkvConnectionError) return false;
  return typeof (e as NodeJS.ErrnoException).code === 'string';
}

/** Writes all of `chunk` at the file's end. */
async function writeAll(file: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let at = 0; at < chunk.length; ) {
    const { bytesWritten } = await file.write(chunk, at, chunk.length - at);
    at += bytesWritten;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** One node's backup into `part`, fsynced and checked; the caller renames it. */
async function download(node: RaftkvClient, part: string, options: SaveBackupOptions): Promise<IntactBackup> {
  const file = await open(part, 'w');
  let sent: BackupResult;
  try {
    sent = await node.backup((chunk) => writeAll(file, chunk), {
      ...(options.idleTimeoutMs !== undefined && { idleTimeoutMs: options.idleTimeoutMs }),
      ...(options.signal !== undefined && { signal: options.signal }),
    });
    await file.sync();
  } finally {
    await file.close();
  }
  // Read back from the disk: what is checked is what was written.
  const backup = expectIntact(await checkBackupFile(part));
  const h = backup.header;
  const disagree = [
    h.index !== sent.index && `index ${h.index}, announced ${sent.index}`,
    h.keyCount !== sent.keys && `${h.keyCount} keys, announced ${sent.keys}`,
    backup.bytes !== sent.bytes && `${backup.bytes} bytes, ${sent.bytes} received`,
    sent.sha256 !== null &&
      sent.sha256 !== backup.sha256 &&
      `SHA-256 ${backup.sha256}, announced ${sent.sha256}`,
  ].filter((x): x is string => typeof x === 'string');
  if (disagree.length > 0) throw new Error(`the file is not what the node sent: ${disagree.join('; ')}`);
  return backup;
}

/** Saves a backup of the cluster from the first of `nodes` that serves one (see the top). */
export async function saveBackup(
  nodes: readonly RaftkvClient[],
  file: string,
  options: SaveBackupOptions = {},
): Promise<SavedBackup> {
  const part = `${file}.part`;
  const failures: { node: RaftkvClient; error: unknown }[] = [];
  for (const node of nodes) {
    try {
      const backup = await download(node, part, options);
      await rename(part, file);
      await fsyncDir(path.dirname(path.resolve(file)));
      return { file, node, backup };
    } catch (e) {
      await rm(part, { force: true });
      if (options.signal?.aborted) throw e;
      failures.push({ node, error: e });
      if (isLocal(e)) break;
      if (node !== nodes[nodes.length - 1]) options.onFailure?.(node, e);
    }
  }
  throw new BackupFailedError(failures);
}
