// Dispatch of `raftkv COMMAND ...` to the commands, with usage errors reported the same way
// everywhere: one line on stderr, the command's usage, exit code 2.

import { readFileSync } from 'node:fs';
import type { RaftkvNode } from '../app/start-node.js';
import type { NodeOptions } from '../node/options.js';
import { type Env, UsageError, wantsHelp } from './args.js';
import { runBenchCommand } from './bench-command.js';
import { parseCertsAdd, parseCertsInit } from './certs-options.js';
import { requestOnce } from './client.js';
import { type ClusterDeps, runCluster } from './cluster.js';
import { runClusterAdd } from './cluster-add.js';
import { parseExerciseCommand, runExerciseCommand } from './exercise.js';
import type { Io } from './io.js';
import { type ClientCommandName, clientCommandFlags, exitCodes, parseClientCommand } from './kv-commands.js';
import { type KvDeps, runClientCommand } from './kv-output.js';
import { type KeepaliveDeps, runLeaseKeepalive } from './lease-keepalive.js';
import { parseLockCommand, runLock } from './lock-command.js';
import { parseSnapshotRestore, parseSnapshotSave, parseSnapshotStatus } from './snapshot-options.js';
import { runSnapshotRestore } from './snapshot-restore.js';
import { runSnapshotSave } from './snapshot-save.js';
import { runSnapshotStatus } from './snapshot-status.js';
import { runStart, type StartDeps } from './start.js';
import { commands, commandUsage, findCommand, generalUsage } from './usage.js';
import { parseWatchCommand, runWatch, type WatchDeps } from './watch-command.js';

export interface CliDeps {
  readonly io: Io;
  /** Loaded lazily: the client commands do not need the node runtime. */
  readonly startNode: () => Promise<(options: NodeOptions) => Promise<RaftkvNode>>;
  readonly start: Omit<StartDeps, 'io' | 'startNode'>;
  readonly cluster: Omit<ClusterDeps, 'io'>;
  readonly kv?: KvDeps;
  /** raftkv watch (default: the API client's watch, stopped by the start command's signals). */
  readonly watch?: WatchDeps;
  /** For `raftkv lease keepalive` (default: real time, the process's signals, kv's send). */
  readonly keepalive?: Partial<KeepaliveDeps>;
}

const clientCommands = new Set<string>(Object.keys(clientCommandFlags));

function isClientCommand(name: string): name is ClientCommandName {
  return clientCommands.has(name);
}

export function version(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
    if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') {
      return pkg.version;
    }
  } catch {
    // fall through
  }
  return 'unknown';
}

export async function runCli(argv: readonly string[], env: Env, deps: CliDeps): Promise<number> {
  const { io } = deps;
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' ? rest : [];
    const info = findCommand(topic)?.info;
    if (topic.length > 0 && !info) {
      io.err(`raftkv: unknown command "${topic[0]}"\n\n${generalUsage()}`);
      return exitCodes.usage;
    }
    io.out(info ? commandUsage(info) : generalUsage());
    return exitCodes.ok;
  }
  if (name === 'version' || name === '--version') {
    io.out(`raftkv ${version()}\n`);
    return exitCodes.ok;
  }
  const found = findCommand(argv);
  if (!found) {
    // `raftkv snapshot` alone (or with a wrong word) names a family of commands: list them.
    const subcommands = commands
      .filter((c) => c.name.startsWith(`${name} `))
      .map((c) => c.name.slice(name.length + 1));
    const unknown = subcommands.length > 0 ? [name, ...rest.slice(0, 1)].join(' ') : name;
    const expected = subcommands.length > 0 ? `: expected "raftkv ${name} ${subcommands.join('|')}"` : '';
    io.err(`raftkv: unknown command "${unknown}"${expected}\n\n${generalUsage()}`);
    return exitCodes.usage;
  }
  const { info, rest: args } = found;
  if (wantsHelp(args, info.flags)) {
    io.out(commandUsage(info));
    return exitCodes.ok;
  }
  try {
    if (name === 'start') {
      const startNode = await deps.startNode();
      return await runStart(args, env, { ...deps.start, io, startNode });
    }
    if (info.name === 'cluster add') return await runClusterAdd(args, env, { ...deps.cluster, io });
    if (name === 'cluster') return await runCluster(args, env, { ...deps.cluster, io });
    if (name === 'exercise') return await runExerciseCommand(parseExerciseCommand(args, env), io);
    if (name === 'bench') return await runBenchCommand(args, env, io, process.stderr.isTTY === true);
    if (info.name === 'snapshot save') return await runSnapshotSave(parseSnapshotSave(args, env), io);
    if (info.name === 'snapshot status') return await runSnapshotStatus(parseSnapshotStatus(args), io);
    if (info.name === 'snapshot restore') return await runSnapshotRestore(parseSnapshotRestore(args), io);
    // Imported here: the X.509 library loads only for these commands.
    if (info.name === 'certs init') {
      const inv = parseCertsInit(args);
      return await (await import('./certs.js')).runCertsInit(inv, io);
    }
    if (info.name === 'certs add') {
      const inv = parseCertsAdd(args);
      return await (await import('./certs.js')).runCertsAdd(inv, io);
    }
    if (name === 'lock') {
      return await runLock(parseLockCommand(args, env), io, { onSignal: deps.start.onSignal });
    }
    if (name === 'watch') {
      return await runWatch(
        parseWatchCommand(args, env),
        io,
        deps.watch ?? { onSignal: deps.start.onSignal },
      );
    }
    if (isClientCommand(name)) {
      const inv = parseClientCommand(name, args, env);
      const c = inv.command;
      if (c.kind === 'lease' && c.lease.action === 'keepalive' && !c.lease.once) {
        return await runLeaseKeepalive(inv, io, {
          send: deps.kv?.send ?? requestOnce,
          sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
          now: () => performance.now(),
          onSignal: deps.start.onSignal,
          ...deps.keepalive,
        });
      }
      const out = await runClientCommand(inv, deps.kv);
      io.out(out.out);
      io.err(out.err);
      return out.code;
    }
    io.err(`raftkv: "${name}" takes no arguments\n`);
    return exitCodes.usage;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`raftkv ${info.name}: ${e.message}\n\n${commandUsage(info)}`);
    return exitCodes.usage;
  }
}
