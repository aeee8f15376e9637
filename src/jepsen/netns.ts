// The test network of the Jepsen runner and of the tests that partition real processes: one Linux
// network namespace per node, joined by a bridge in the root namespace, so that a partition is
// packets dropped by the kernel, not an application switch.
//
//   root namespace:  bridge <p>br0  <subnet>.1/24       (the runner or test and its clients live here)
//   node i:          namespace <p>n<i>, veth <p>v<i> (<subnet>.<10+i>/24) <-> <p>p<i> on the bridge
//
// Faults are iptables rules inside the node namespaces (`INPUT -s <peer> -j DROP`): they are
// isolated per namespace and vanish with it. Any cut can be made, in one direction or both (a
// partition into halves, a node that sees both sides, a node that hears but is not heard). The
// address of the root namespace is never blocked, as in Jepsen, where the clients see every node.
// With bridge netfilter on, bridged packets also cross the root namespace's FORWARD chain; a chain
// <p>fwd accepting the bridge's traffic is put in front so a host firewall cannot interfere.
//
// Every name made here starts with the network's prefix <p>: "rkvj-" for the Jepsen runner, a
// per-process one for the tests. Teardown removes all of them, is idempotent and synchronous (it
// runs from signal and exit handlers too), and sweep() removes whatever a killed run left behind.
// The runner takes a lock file, so that two runs never share the "rkvj-" names.

import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, tryRun } from './exec.js';

/** The Jepsen runner's names. */
export const prefix = 'rkvj-';

/** Linux's limit on the length of a link name (IFNAMSIZ less the terminating zero). */
const maxLinkName = 15;
const bridgeOf = (p: string): string => `${p}br0`;
const rootChainOf = (p: string): string => `${p}fwd`;

export class NetworkUnavailableError extends Error {
  override readonly name = 'NetworkUnavailableError';
}

/** Why this machine cannot run the runner (not root, no ip netns, no iptables), or null if it can. */
export function networkSupportProblem(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return 'needs root (ip netns, iptables)';
  const ip = tryRun('ip', ['netns', 'list']);
  if (ip.status !== 0) return `ip netns is unavailable: ${ip.stderr.trim() || `status ${ip.status}`}`;
  const ipt = tryRun('iptables', ['--version']);
  if (ipt.status !== 0) return 'iptables is not installed (apt-get install -y iptables)';
  const probe = `${prefix}probe${process.pid}`;
  const add = tryRun('ip', ['netns', 'add', probe]);
  if (add.status !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  try {
    const rule = tryRun('ip', ['netns', 'exec', probe, 'iptables', '-S', 'INPUT']);
    if (rule.status !== 0) return `iptables does not work inside a namespace: ${rule.stderr.trim()}`;
  } finally {
    tryRun('ip', ['netns', 'del', probe]);
  }
  return null;
}

function lockPath(): string {
  return path.join(os.tmpdir(), 'rkvj-jepsen.lock');
}

/** Whether process `pid` exists (ours or another user's). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the machine-wide lock for the rkvj- names; throws if another live run holds it. */
export function acquireLock(): void {
  const file = lockPath();
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
      throw new NetworkUnavailableError(`another jepsen run (pid ${pid}) is using the ${prefix}* network`);
    }
  }
  writeFileSync(file, String(process.pid));
}

export function releaseLock(): void {
  const file = lockPath();
  try {
    if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
  } catch {
    // already gone
  }
}

/** The network namespaces whose names start with `p`. */
export function namespacesStartingWith(p: string): string[] {
  const out = tryRun('ip', ['netns', 'list']).stdout;
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(p));
}

/** The links whose names start with `p`. */
export function linksStartingWith(p: string): string[] {
  const out = tryRun('ip', ['-o', 'link', 'show']).stdout;
  const names: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)/.exec(line);
    if (m?.[1]?.startsWith(p)) names.push(m[1]);
  }
  return names;
}

/**
 * Removes every namespace, link and root iptables chain named with prefix `p` (default the
 * runner's), after SIGKILLing processes still inside those namespaces (nodes a killed earlier run
 * left behind). Call it only for names no live run uses (the runner: while holding the lock).
 */
export function sweep(p: string = prefix): string[] {
  const removed: string[] = [];
  for (const ns of namespacesStartingWith(p)) {
    const pids = tryRun('ip', ['netns', 'pids', ns])
      .stdout.split('\n')
      .map((s) => Number(s.trim()))
      .filter((p) => Number.isSafeInteger(p) && p > 0 && p !== process.pid);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (tryRun('ip', ['netns', 'del', ns]).status === 0) removed.push(`netns ${ns}`);
  }
  for (const link of linksStartingWith(p)) {
    if (tryRun('ip', ['link', 'del', link]).status === 0) removed.push(`link ${link}`);
  }
  removed.push(...removeRootChain(rootChainOf(p)));
  return removed;
}

function removeRootChain(rootChain: string): string[] {
  const removed: string[] = [];
  if (tryRun('iptables', ['-S', rootChain]).status !== 0) return removed;
  for (const parent of ['FORWARD', 'INPUT']) {
    for (let i = 0; i < 10 && tryRun('iptables', ['-D', parent, '-j', rootChain]).status === 0; i++) {
      removed.push(`iptables ${parent} -> ${rootChain}`);
    }
  }
  tryRun('iptables', ['-F', rootChain]);
  if (tryRun('iptables', ['-X', rootChain]).status === 0) removed.push(`iptables chain ${rootChain}`);
  return removed;
}

/** One directed block: packets from node `from` are dropped on arrival at node `to`. */
export interface Block {
  readonly from: number;
  readonly to: number;
}

export class Network {
  private up = false;
  private readonly blocks = new Map<string, Block>();

  /**
   * `subnet` is the first three octets, e.g. "10.77.0"; nodes are numbered 1..n. Every name made
   * starts with `namePrefix`.
   */
  constructor(
    readonly nodes: number,
    readonly subnet: string,
    readonly namePrefix: string = prefix,
  ) {
    if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(subnet))
      throw new Error(`bad subnet "${subnet}" (want e.g. 10.77.0)`);
    if (nodes < 1 || nodes > 200) throw new Error('between 1 and 200 nodes');
    const longest = Math.max(bridgeOf(namePrefix).length, `${namePrefix}p${nodes}`.length);
    if (!/^[a-z0-9-]+$/.test(namePrefix) || longest > maxLinkName) {
      throw new Error(`bad name prefix "${namePrefix}" (lowercase letters, digits, "-"; short)`);
    }
  }

  get bridgeName(): string {
    return bridgeOf(this.namePrefix);
  }

  get hostAddress(): string {
    return `${this.subnet}.1`;
  }

  address(i: number): string {
    return `${this.subnet}.${10 + i}`;
  }

  namespace(i: number): string {
    return `${this.namePrefix}n${i}`;
  }

  private innerLink(i: number): string {
    return `${this.namePrefix}v${i}`;
  }

  private outerLink(i: number): string {
    return `${this.namePrefix}p${i}`;
  }

  /** Creates the bridge, the namespaces and their links. Throws (after undoing its work) on failure. */
  setup(): void {
    const conflict = tryRun('ip', ['-o', 'route', 'show', `${this.subnet}.0/24`]).stdout.trim();
    const bridgeName = this.bridgeName;
    const rootChain = rootChainOf(this.namePrefix);
    if (conflict !== '' && !conflict.includes(bridgeName)) {
      throw new NetworkUnavailableError(`subnet ${this.subnet}.0/24 is already in use: ${conflict}`);
    }
    this.up = true;
    try {
      run('ip', ['link', 'add', bridgeName, 'type', 'bridge']);
      run('ip', ['addr', 'add', `${this.hostAddress}/24`, 'dev', bridgeName]);
      run('ip', ['link', 'set', bridgeName, 'up']);
      run('iptables', ['-N', rootChain]);
      run('iptables', ['-A', rootChain, '-i', bridgeName, '-j', 'ACCEPT']);
      run('iptables', ['-A', rootChain, '-o', bridgeName, '-j', 'ACCEPT']);
      run('iptables', ['-I', 'FORWARD', '1', '-j', rootChain]);
      run('iptables', ['-I', 'INPUT', '1', '-j', rootChain]);
      for (let i = 1; i <= this.nodes; i++) {
        const ns = this.namespace(i);
        const inner = this.innerLink(i);
        const outer = this.outerLink(i);
        run('ip', ['netns', 'add', ns]);
        run('ip', ['link', 'add', inner, 'type', 'veth', 'peer', 'name', outer]);
        run('ip', ['link', 'set', outer, 'master', bridgeName]);
        run('ip', ['link', 'set', outer, 'up']);
        run('ip', ['link', 'set', inner, 'netns', ns]);
        this.exec(i, ['ip', 'link', 'set', 'lo', 'up']);
        this.exec(i, ['ip', 'addr', 'add', `${this.address(i)}/24`, 'dev', inner]);
        this.exec(i, ['ip', 'link', 'set', inner, 'up']);
        this.exec(i, ['iptables', '-F', 'INPUT']);
      }
    } catch (e) {
      this.teardown();
      throw e;
    }
  }

  /** Runs a command inside node i's namespace. */
  exec(i: number, argv: readonly string[]): string {
    return run('ip', ['netns', 'exec', this.namespace(i), ...argv]);
  }

  /** Drops packets from `from` arriving at `to` (one direction). */
  block(from: number, to: number): void {
    const k = `${from}>${to}`;
    if (this.blocks.has(k)) return;
    this.exec(to, ['iptables', '-A', 'INPUT', '-s', this.address(from), '-j', 'DROP']);
    this.blocks.set(k, { from, to });
  }

  /** Cuts both directions between every node of `a` and every node of `b`. */
  cut(a: readonly number[], b: readonly number[]): void {
    for (const x of a) {
      for (const y of b) {
        this.block(x, y);
        this.block(y, x);
      }
    }
  }

  /** Removes every block. */
  heal(): void {
    for (let i = 1; i <= this.nodes; i++) this.exec(i, ['iptables', '-F', 'INPUT']);
    this.blocks.clear();
  }

  currentBlocks(): Block[] {
    return [...this.blocks.values()];
  }

  /** Removes everything setup made; idempotent, never throws. */
  teardown(): void {
    if (!this.up) return;
    this.up = false;
    this.blocks.clear();
    for (let i = 1; i <= this.nodes; i++) tryRun('ip', ['netns', 'del', this.namespace(i)]);
    for (let i = 1; i <= this.nodes; i++) tryRun('ip', ['link', 'del', this.outerLink(i)]);
    tryRun('ip', ['link', 'del', this.bridgeName]);
    removeRootChain(rootChainOf(this.namePrefix));
  }
}
