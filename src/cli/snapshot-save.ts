// `raftkv snapshot save FILE`: a backup from the first endpoint that serves one, written so that
// FILE is either the previous one or a whole, verified new one: streamed into FILE.part, fsynced,
// read back and checked (hash, and that it is what the node announced), renamed over FILE, the
// directory fsynced. An endpoint that fails — before or during the stream — is followed by the
// next, from the start.

import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { checkBackupFile, expectIntact, type IntactBackup } from '../backup/index.js';
import { type BackupResult, RaftkvApiError, RaftkvClient, RaftkvConnectionError } from '../client/index.js';
import type { Endpoint } from './addresses.js';
import { type Credentials, clientOptionsOf } from './connection-options.js';
import { describeError, type Io } from './io.js';
import { exitCodes } from './kv-commands.js';
import type { SaveInvocation } from './snapshot-options.js';
import { printSnapshotResult } from './snapshot-output.js';

export interface SavedBackup {
  readonly file: string;
  readonly endpoint: string;
  readonly backup: IntactBackup;
}

/** A failure of this machine's file system (ENOSPC, EACCES ...): the next node cannot help. */
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

/** One endpoint's backup into `part`, fsynced and checked; the caller renames it. */
async function download(
  endpoint: Endpoint,
  part: string,
  idleTimeoutMs: number,
  credentials: Credentials,
): Promise<IntactBackup> {
  const file = await open(part, 'w');
  let sent: BackupResult;
  try {
    const client = new RaftkvClient(endpoint.url, { keepAlive: false, ...clientOptionsOf(credentials) });
    sent = await client.backup((chunk) => writeAll(file, chunk), { idleTimeoutMs });
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

/** Saves a backup into `inv.file` (see the top of this file); throws with every endpoint's failure. */
export async function saveSnapshot(inv: SaveInvocation, note: (line: string) => void): Promise<SavedBackup> {
  const part = `${inv.file}.part`;
  const failures: string[] = [];
  for (const endpoint of inv.endpoints) {
    try {
      const backup = await download(endpoint, part, inv.idleTimeoutMs, inv.credentials);
      await rename(part, inv.file);
      await fsyncDir(path.dirname(path.resolve(inv.file)));
      return { file: inv.file, endpoint: endpoint.label, backup };
    } catch (e) {
      await rm(part, { force: true });
      failures.push(`${endpoint.label}: ${describeError(e)}`);
      if (isLocal(e)) break;
      if (endpoint !== inv.endpoints[inv.endpoints.length - 1])
        note(`${failures.at(-1)}; trying the next endpoint`);
    }
  }
  throw new Error(failures.join('; '));
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
