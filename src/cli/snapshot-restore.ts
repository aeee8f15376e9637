// `raftkv snapshot restore FILE --id ID --cluster ... --data-dir DIR`: offline, builds the data
// dir of one member of a NEW cluster whose state is the file's and whose membership is --cluster.
// The file is checked whole (and its state decoded) before anything is written; the new cluster's
// id is --cluster-token, or derived from the file's hash and --cluster, so every member restored
// from the same file with the same --cluster agrees on it without being told, and none can talk
// to the cluster the file came from. Run once per member, then start each as usual.

import { type BackupCheck, BackupFileError, checkBackupFile, expectIntact } from '../backup/index.js';
import { CodecError } from '../codec/index.js';
import { KvStateMachine } from '../kv/index.js';
import { clusterSpecOf, restoredClusterIdOf } from '../node/recover.js';
import { initialMembership } from '../raft/index.js';
import { RealDisk, restoreDataDir } from '../storage/index.js';
import { formatHostPort } from './addresses.js';
import { inspectDataDir } from './data-dir-state.js';
import { describeError, type Io, shellQuote } from './io.js';
import { exitCodes } from './kv-commands.js';
import type { RestoreInvocation } from './snapshot-options.js';
import { printSnapshotResult } from './snapshot-output.js';

/** A restore refused, with the reason (one line). */
class RestoreRefused extends Error {
  override name = 'RestoreRefused';
}

/** The file checked whole and its body (the state machine's snapshot), in one buffer of its size. */
async function readBackup(file: string): Promise<{ check: BackupCheck; body: Uint8Array }> {
  let body = new Uint8Array(0);
  let check: BackupCheck;
  try {
    check = await checkBackupFile(file, (bytes, offset, bodyBytes) => {
      if (offset === 0) body = new Uint8Array(Math.max(0, bodyBytes));
      // A file longer or shorter than it says is refused by the check; copy what fits meanwhile.
      body.set(bytes.subarray(0, Math.max(0, body.length - offset)), Math.min(offset, body.length));
    });
  } catch (e) {
    if (e instanceof BackupFileError) throw new RestoreRefused(`${file}: ${e.message}`);
    throw new RestoreRefused(`cannot read ${file}: ${describeError(e)}`);
  }
  return { check, body };
}

export interface Restored {
  readonly clusterId: string;
  readonly sourceClusterId: string;
  readonly index: number;
  readonly term: number;
  readonly keys: number;
  /** Nodes whose no-space alarm the state carries that are not members of the new cluster. */
  readonly strayAlarms: readonly string[];
}

/** Builds the member's data dir (see the top of this file); RestoreRefused says why not. */
export async function restoreSnapshot(inv: RestoreInvocation): Promise<Restored> {
  // Before reading a file of any size: a dir in use is never restored over.
  const dir = inspectDataDir(inv.dataDir);
  if (dir.kind !== 'fresh') {
    const what =
      dir.kind === 'node'
        ? `holds node ${dir.identity.nodeId} of cluster ${dir.identity.clusterId}`
        : dir.why;
    throw new RestoreRefused(`data dir ${inv.dataDir} is not empty (it ${what}): give a new or empty one`);
  }
  const { check, body } = await readBackup(inv.file);
  let intact: ReturnType<typeof expectIntact>;
  try {
    intact = expectIntact(check);
  } catch (e) {
    throw new RestoreRefused(`${inv.file}: ${describeError(e)}`);
  }
  const h = intact.header;
  let state: KvStateMachine;
  try {
    state = KvStateMachine.restore(body);
  } catch (e) {
    if (!(e instanceof CodecError)) throw e;
    throw new RestoreRefused(
      `${inv.file}: its checksum is right but its state does not decode: ${e.message}`,
    );
  }
  if (state.lastApplied !== h.index || state.size !== h.keyCount) {
    throw new RestoreRefused(
      `${inv.file}: its header says index ${h.index} and ${h.keyCount} keys, its state holds index ${state.lastApplied} and ${state.size} keys`,
    );
  }
  const sha256 = Buffer.from(intact.sha256, 'hex');
  const clusterId = inv.clusterToken ?? restoredClusterIdOf(inv.cluster, sha256);
  if (clusterId === h.clusterId) {
    throw new RestoreRefused(
      `--cluster-token ${clusterId} is the id of the cluster the snapshot was taken from: a restore makes a new cluster, give another`,
    );
  }
  const addresses = Object.fromEntries(Object.entries(inv.cluster).map(([id, a]) => [id, formatHostPort(a)]));
  try {
    await restoreDataDir(
      new RealDisk(),
      inv.dataDir,
      { clusterId, nodeId: inv.id },
      { meta: { index: h.index, term: h.term, membership: initialMembership(addresses) }, data: body },
      {
        clusterId,
        clusterSpec: clusterSpecOf(inv.cluster),
        sourceClusterId: h.clusterId,
        index: h.index,
        term: h.term,
        sha256,
      },
    );
  } catch (e) {
    throw new RestoreRefused(`cannot build ${inv.dataDir}: ${describeError(e)}`);
  }
  return {
    clusterId,
    sourceClusterId: h.clusterId,
    index: h.index,
    term: h.term,
    keys: h.keyCount,
    strayAlarms: state.noSpaceAlarms.filter((node) => inv.cluster[node] === undefined),
  };
}

export async function runSnapshotRestore(inv: RestoreInvocation, io: Io): Promise<number> {
  let r: Restored;
  try {
    r = await restoreSnapshot(inv);
  } catch (e) {
    if (!(e instanceof RestoreRefused)) throw e;
    io.err(`raftkv: snapshot restore refused: ${e.message}\n`);
    return exitCodes.failed;
  }
  const start = [
    'raftkv start --id',
    shellQuote(inv.id),
    '--cluster',
    shellQuote(inv.clusterArg),
    '--data-dir',
    shellQuote(inv.dataDir),
    ...(inv.clusterToken === undefined ? [] : ['--cluster-token', shellQuote(inv.clusterToken)]),
  ].join(' ');
  const members = Object.keys(inv.cluster);
  printSnapshotResult(
    io,
    inv.json,
    {
      file: inv.file,
      dataDir: inv.dataDir,
      id: inv.id,
      clusterId: r.clusterId,
      sourceClusterId: r.sourceClusterId,
      index: r.index,
      term: r.term,
      keys: r.keys,
      members,
      start,
    },
    `restored ${inv.file} (index ${r.index}, ${r.keys} keys, from cluster ${r.sourceClusterId}) into ${inv.dataDir}\n` +
      `as member ${inv.id} of the new cluster ${r.clusterId} (${members.join(', ')}).\n` +
      'Restore every member from the same file with the same --cluster, then start each:\n' +
      `  ${start}\n`,
  );
  if (r.strayAlarms.length > 0) {
    io.err(
      `raftkv: the state carries the no-space alarm of ${r.strayAlarms.join(', ')}, not a member of the new cluster: ` +
        'writes that grow the state are refused until it is cleared, once the cluster runs: ' +
        r.strayAlarms
          .map(
            (n) =>
              `curl -XPOST HOST:PORT/admin/alarms -d '{"node":"${n}","alarm":"no_space","active":false}'`,
          )
          .join('; ') +
        '\n',
    );
  }
  return exitCodes.ok;
}
