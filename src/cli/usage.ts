// Every command's synopsis and flags, and the usage text made from them. docs/cli.md documents the
// same tables (test/cli/docs.test.ts keeps the two in step).

import { type FlagDef, flagLines } from './args.js';
import { benchFlags } from './bench-command.js';
import { certsAddFlags, certsInitFlags } from './certs-options.js';
import { clusterAddFlags } from './cluster-add-options.js';
import { clusterFlags } from './cluster-options.js';
import { exerciseFlags } from './exercise.js';
import {
  defaultEndpoints,
  delFlags,
  exitCodes,
  getFlags,
  leaderFlags,
  leaseFlags,
  listFlags,
  memberFlags,
  putFlags,
  statusFlags,
  txnFlags,
} from './kv-commands.js';
import { lockFlags } from './lock-command.js';
import { snapshotRestoreFlags, snapshotSaveFlags, snapshotStatusFlags } from './snapshot-options.js';
import { startFlags } from './start-options.js';
import { watchFlags } from './watch-command.js';

export interface CommandInfo {
  readonly name: string;
  readonly synopsis: string;
  readonly summary: string;
  readonly flags: readonly FlagDef[];
  /** Extra lines shown after the flags. */
  readonly notes?: readonly string[];
}

export const commands: readonly CommandInfo[] = [
  {
    name: 'start',
    synopsis: 'raftkv start --id ID --cluster ID=HOST:PORT,... [--data-dir DIR] [--listen HOST:PORT] [flags]',
    summary: 'run one node until SIGTERM/SIGINT',
    flags: startFlags,
    notes: [
      "The seed's form also works when neither --cluster nor CLUSTER is set:",
      '  NODE_ID=node1 PEER_IDS=node2:3000,node3:3000 PORT=3000 raftkv start',
      'makes node1 (at node1:PORT) and one node per PEER_IDS entry, whose id is its host;',
      'it listens on 0.0.0.0:PORT (PORT defaults to 3000).',
      'Durations are milliseconds: 500, 500ms or 2s.',
    ],
  },
  {
    name: 'cluster',
    synopsis: 'raftkv cluster [--nodes 3] [--base-port 7001] [--data-dir ./data] [--host 127.0.0.1] [flags]',
    summary: 'run a local cluster of N node processes (n1..nN) and show the leader; Ctrl-C stops all',
    flags: clusterFlags,
    notes: [
      'The other flags are passed to every node. Re-running with the same --data-dir resumes the',
      'cluster with its data: keep --nodes, --base-port and --host the same (they name the cluster).',
      'With --auth-file the nodes get a token for their own calls: --token or RAFTKV_TOKEN, else the',
      'first admin of the file whose token is in the clear (it says whose); the token and the TLS',
      'files reach the nodes by their environment.',
      'A node that exits is reported; the others keep running.',
      'A control API on 127.0.0.1 (its URL printed at start, its token in DATA_DIR/supervisor.json)',
      'kills, stops and restarts single nodes: raftkv exercise uses it, and so does the dashboard.',
      'To grow it while it runs: raftkv cluster add (in another terminal).',
    ],
  },
  {
    name: 'cluster add',
    synopsis:
      'raftkv cluster add [--endpoints HOST:PORT,...] [--id ID] [--port PORT] [--data-dir ./data] [--learner] [flags]',
    summary: 'run one more node that joins the running cluster, in the foreground; Ctrl-C stops it',
    flags: clusterAddFlags,
    notes: [
      'Asks --endpoints for the members, then runs "raftkv start --join" for the new node (id, port',
      'and DIR/<id> as above), forwards its log, and says when the cluster lists it and when it is a',
      'voter. An --id that is already a member is restarted on its data dir, not added again.',
      'Stopping it does not remove the member: raftkv member remove ID does.',
      'The other flags are passed to the node: give the ones raftkv cluster was given',
      '(--token and the TLS files by its environment, for its --join reads).',
    ],
  },
  {
    name: 'put',
    synopsis: 'raftkv put KEY VALUE [--prev-value V | --prev-absent] [--lease ID] [--idempotency-key K]',
    summary: 'write KEY=VALUE (optionally compare-and-set); prints OK once committed',
    flags: putFlags,
    notes: ['Put "--" before a KEY or VALUE that starts with "-": raftkv put -- -k -v'],
  },
  {
    name: 'get',
    synopsis: 'raftkv get KEY [--stale]',
    summary: 'print the value of KEY (exit 1 if absent)',
    flags: getFlags,
  },
  {
    name: 'del',
    synopsis: 'raftkv del KEY [--idempotency-key K]',
    summary: 'delete KEY',
    flags: delFlags,
  },
  {
    name: 'txn',
    synopsis: 'raftkv txn FILE|- [--idempotency-key K]',
    summary: 'run a transaction (JSON, as POST /txn takes it) from FILE or stdin; prints which branch ran',
    flags: txnFlags,
    notes: [
      'FILE holds {"compare": [...], "success": [...], "failure": [...]} (docs/api.md).',
      'Prints "succeeded" or "failed: the failure ops ran", then one line per op.',
    ],
  },
  {
    name: 'list',
    synopsis: 'raftkv list [PREFIX] [--limit N] [--stale]',
    summary: 'print KEY<TAB>VALUE lines for the keys starting with PREFIX, in key order',
    flags: listFlags,
  },
  {
    name: 'watch',
    synopsis: 'raftkv watch KEY | --prefix P [--from-index N] [--json]',
    summary: 'print each committed change to KEY (or to the keys under P) as it happens, until interrupted',
    flags: watchFlags,
    notes: [
      'One line per change: "put KEY VALUE (index N)" or "delete KEY (index N)", in log order, each once.',
      'When a node fails the watch resumes on the next endpoint where it left off (a note on stderr).',
      'Ctrl-C ends it (exit 0). Exit 1 when the changes asked for are older than the history kept:',
      "read the keys again and watch with --from-index (the read's index + 1).",
    ],
  },
  {
    name: 'lock',
    synopsis: 'raftkv lock NAME [--ttl S] [-- COMMAND [ARGS...]]',
    summary: 'take lock NAME (waiting its turn), run COMMAND while holding it, release it when COMMAND exits',
    flags: lockFlags,
    notes: [
      'COMMAND gets RAFTKV_LOCK_NAME, RAFTKV_LOCK_KEY and RAFTKV_LOCK_TOKEN, the fencing token: pass it',
      'to what the lock protects, which must refuse tokens lower than the highest it has seen (docs/locks.md).',
      'If the lock is lost (its lease ended, or no renewal was acknowledged for --ttl), COMMAND gets',
      "SIGTERM and the exit code is 1; otherwise it is COMMAND's. Without COMMAND, prints the key and",
      'the token and holds the lock until interrupted.',
    ],
  },
  {
    name: 'status',
    synopsis: 'raftkv status',
    summary: "print every endpoint's id, state, term, leader, commit and applied index",
    flags: statusFlags,
  },
  {
    name: 'member',
    synopsis: 'raftkv member list | add ID HOST:PORT [--learner] | promote ID | remove ID',
    summary: 'list or change the members (docs/membership.md); a change answers once committed',
    flags: memberFlags,
    notes: [
      '"add" makes ID a learner that the leader promotes to voter once it has caught up;',
      'with --learner it stays a learner until "member promote". Any member forwards changes to the leader.',
    ],
  },
  {
    name: 'leader',
    synopsis: 'raftkv leader move [ID]',
    summary: 'move leadership to ID (default: the most caught-up voter) and wait until it leads',
    flags: leaderFlags,
  },
  {
    name: 'lease',
    synopsis: 'raftkv lease grant TTL | keepalive ID [--once] | revoke ID | show ID [--stale]',
    summary: 'grant, renew, revoke or show a lease: keys put with --lease ID go when it ends',
    flags: leaseFlags,
    notes: [
      'grant prints "lease ID granted with TTL Ns" (TTL in seconds, 1 to 9000000000); keepalive renews',
      'it every TTL/3 until Ctrl-C, printing each renewal, and exits 1 when the lease is gone; revoke',
      'ends it now and deletes its keys; show prints its TTL, the seconds left and its keys.',
      'A lease lasts at least TTL from the moment a renewal that was acknowledged was sent (docs/leases.md).',
    ],
  },
  {
    name: 'snapshot save',
    synopsis: 'raftkv snapshot save FILE [--endpoints HOST:PORT,...] [--timeout MS] [--json] [--token TOKEN]',
    summary:
      'save a backup of the whole state, at a linearizable point, to FILE (written atomically, verified)',
    flags: snapshotSaveFlags,
    notes: [
      'Any node serves it (a follower confirms the read point through the leader); writes go on meanwhile.',
      'FILE is written as FILE.part, fsynced, read back and checked, then renamed over FILE: FILE is',
      'always a whole backup. Prints the index, keys and bytes (docs/backup.md).',
    ],
  },
  {
    name: 'snapshot status',
    synopsis: 'raftkv snapshot status FILE [--json]',
    summary: 'describe a backup file and check it whole (exit 1 if it is damaged)',
    flags: snapshotStatusFlags,
  },
  {
    name: 'snapshot restore',
    synopsis:
      'raftkv snapshot restore FILE --id ID --cluster ID=HOST:PORT,... --data-dir DIR [--cluster-token TOKEN]',
    summary: "build one member's data dir of a NEW cluster whose state is FILE's (offline)",
    flags: snapshotRestoreFlags,
    notes: [
      'Run it once per member with the same FILE and --cluster, then start every member as usual:',
      '  raftkv start --id ID --cluster ID=HOST:PORT,... --data-dir DIR',
      'The new cluster has its own id, so it never talks to the one the backup came from. DIR must be',
      'missing or empty; a damaged FILE is refused with the reason.',
    ],
  },
  {
    name: 'bench',
    synopsis:
      'raftkv bench [--endpoints HOST:PORT,...] [--clients N] [--total N | --duration D] [--op put|get|mixed:R] [flags]',
    summary: 'load the cluster and report throughput, latency percentiles and errors',
    flags: benchFlags,
    notes: ['--target etcd loads an etcd cluster through its v3 JSON gateway, for comparisons.'],
  },
  {
    name: 'certs init',
    synopsis: 'raftkv certs init --cluster ID=HOST:PORT,... --out DIR [--days N] [--force]',
    summary: 'make a CA, a certificate per node and a client certificate, for TLS (PEM files in DIR)',
    flags: certsInitFlags,
    notes: [
      'Writes DIR/ca.pem, DIR/ca-key.pem, DIR/<id>.pem and DIR/<id>-key.pem per node, DIR/client.pem and',
      'DIR/client-key.pem (keys 0600), then prints the raftkv start flags of each node and the client',
      'flags (--cacert, --cert, --key, https:// endpoints). Refuses, writing nothing, when a file is',
      'already there, unless --force. Node certificates serve and dial (serverAuth, clientAuth) and name',
      "their node's HOST, 127.0.0.1, ::1 and localhost; docs/security.md says how to use them.",
    ],
  },
  {
    name: 'certs add',
    synopsis: 'raftkv certs add --ca-dir DIR --id ID --host HOST [--host HOST ...] [--days N] [--force]',
    summary: "make one more node's certificate with the CA certs init made",
    flags: certsAddFlags,
    notes: ['Writes DIR/<id>.pem and DIR/<id>-key.pem and prints the TLS flags to start the node with.'],
  },
  {
    name: 'exercise',
    synopsis: 'raftkv exercise N [--endpoints HOST:PORT,...] [--supervisor FILE] [--json]',
    summary: "run one of the seed's four exercises against the cluster, narrated step by step; PASS or FAIL",
    flags: exerciseFlags,
    notes: [
      '1  basic operations: a write through the leader, read back from every node (stale with',
      '   minIndex, and linearizable)',
      '2  leader failover: kill the leader (through the supervisor; without one, isolate it), time',
      '   the election, write on, restart it and watch it catch up',
      '3  network partition (5 nodes, --enable-faults): cut 2 nodes off, the leader among them; the',
      '   majority elects and commits, the minority cannot; heal, the minority catches up',
      '4  persistence (needs the supervisor): write, stop every node, start them again, read it all back',
      'Run them on a cluster started with: raftkv cluster --enable-faults (exercise 3: --nodes 5).',
      'Exit 0 on PASS, 1 on FAIL, 2 when the cluster lacks what the exercise needs (it says how to',
      'start one that has it). docs/exercises.md explains each.',
    ],
  },
  { name: 'help', synopsis: 'raftkv help [COMMAND]', summary: "show this help, or a command's", flags: [] },
  { name: 'version', synopsis: 'raftkv version', summary: 'print the version', flags: [] },
];

export function commandInfo(name: string): CommandInfo | undefined {
  return commands.find((c) => c.name === name);
}

/**
 * The command `words` start with — one of two words (`cluster add`) before one of one word — and
 * the words after its name.
 */
export function findCommand(words: readonly string[]): { info: CommandInfo; rest: string[] } | undefined {
  const [first, second, ...more] = words;
  if (first === undefined) return undefined;
  const two = second === undefined ? undefined : commandInfo(`${first} ${second}`);
  if (two) return { info: two, rest: more };
  const one = commandInfo(first);
  return one && { info: one, rest: words.slice(1) };
}

const exitCodeLine =
  `Exit codes: ${exitCodes.ok} success, ${exitCodes.failed} failed (incl. key not found, precondition failed), ` +
  `${exitCodes.usage} usage error, ${exitCodes.unknown} write outcome unknown.`;

export function generalUsage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'raftkv: a replicated key-value store on Raft',
    '',
    'Usage:',
    ...commands.map((c) => `  raftkv ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `Client commands (put, get, del, txn, list, watch, lock, status, member, leader, lease) talk to --endpoints HOST:PORT,...`,
    `(env RAFTKV_ENDPOINTS; default ${defaultEndpoints}).`,
    'Every command that talks to a node takes --token (env RAFTKV_TOKEN) and, for https://',
    'endpoints, --cacert, --cert and --key (env RAFTKV_CACERT, RAFTKV_CERT, RAFTKV_KEY).',
    'Run "raftkv help COMMAND" or "raftkv COMMAND --help" for its flags.',
    exitCodeLine,
    '',
  ].join('\n');
}

export function commandUsage(c: CommandInfo): string {
  const lines = [`Usage: ${c.synopsis}`, '', `${c.summary[0]!.toUpperCase()}${c.summary.slice(1)}.`];
  if (c.flags.length > 0) lines.push('', 'Flags:', ...flagLines(c.flags));
  if (c.notes) lines.push('', ...c.notes);
  lines.push('', exitCodeLine, '');
  return lines.join('\n');
}
