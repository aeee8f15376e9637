// The Jepsen-style runner end to end: real node processes in network namespaces, real packet
// drops, kills and pauses. Needs root and `ip netns` + iptables; skipped with the reason otherwise.
//
// Bounded for CI (about 3 minutes in all): three 40-second runs with different nemeses and
// seeds must come out valid; a run whose reads are served from local state (no ReadIndex) must be
// caught; and an interrupted or failing run must leave no namespace, link, iptables chain or node
// process behind. Longer runs: see docs/jepsen.md.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tryRun } from '../../src/jepsen/exec.js';
import { networkSupportProblem } from '../../src/jepsen/netns.js';

const cli = fileURLToPath(new URL('../../src/jepsen/cli.js', import.meta.url));
const problem = networkSupportProblem();
const skip = problem === null ? false : `jepsen runs skipped: ${problem}`;

interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly out: string;
}

/** Runs the CLI; `onStderr` may act on progress lines (e.g. interrupt the run). */
function runCli(args: readonly string[], onStderr?: (text: string, pid: number) => void): Promise<Finished> {
  const out = mkdtempSync(path.join(os.tmpdir(), 'raftkv-jepsen-'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args, '--out', out], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (child.pid !== undefined) onStderr?.(stderr, child.pid);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr, out }));
  });
}

/** Nothing with the rkvj- prefix left, and no process still running from this run's directory. */
async function assertCleanedUp(out: string): Promise<void> {
  assert.doesNotMatch(tryRun('ip', ['netns', 'list']).stdout, /rkvj-/, 'a namespace was left behind');
  assert.doesNotMatch(tryRun('ip', ['-o', 'link', 'show']).stdout, /rkvj-/, 'a link was left behind');
  assert.doesNotMatch(tryRun('iptables', ['-S']).stdout, /rkvj-/, 'an iptables chain was left behind');
  // A SIGKILLed process may take a moment to disappear from /proc.
  for (let i = 0; i < 30 && survivorsOf(out).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(survivorsOf(out), [], 'node processes were left behind');
}

function survivorsOf(out: string): string[] {
  const survivors: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(out)) survivors.push(`${pid}: ${cmd.replaceAll('\0', ' ')}`);
    } catch {
      // exited meanwhile
    }
  }
  return survivors;
}

function explain(r: Finished): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr (tail)\n${r.stderr.slice(-3000)}\n(output kept in ${r.out})`;
}

async function validRun(args: readonly string[]): Promise<void> {
  const r = await runCli(args);
  assert.equal(r.code, 0, explain(r));
  assert.match(r.stdout, /Verdict: VALID/);
  assert.match(r.stdout, /Register history: linearizable/);
  assert.match(r.stdout, /Set: valid/);
  await assertCleanedUp(r.out);
  rmSync(r.out, { recursive: true, force: true });
}

describe('jepsen runner', { skip, concurrency: 1 }, () => {
  it('catches reads served from local state (no ReadIndex) under partitions', {
    timeout: 90_000,
  }, async () => {
    // Followers lag the leader even without faults, and a partitioned minority keeps serving
    // its old state, so every seed tried so far fails within seconds.
    const r = await runCli(['--time', '15', '--seed', '7', '--nemesis', 'partition', '--unsafe-stale-reads']);
    assert.equal(r.code, 1, explain(r));
    assert.match(r.stdout, /Verdict: INVALID/);
    assert.match(r.stdout, /Register history: not-linearizable/);
    assert.match(r.stdout, /Smallest window showing the anomaly/);
    assert.match(r.stdout, /cannot be linearized/);
    await assertCleanedUp(r.out);
    rmSync(r.out, { recursive: true, force: true });
  });

  it('partitions (halves, leader, bridge, one-way): valid', { timeout: 150_000 }, async () => {
    await validRun(['--time', '40', '--seed', '101', '--nemesis', 'partition']);
  });

  it('kill -9 and restarts, rolling too: valid', { timeout: 150_000 }, async () => {
    await validRun(['--time', '40', '--seed', '202', '--nemesis', 'kill,restart']);
  });

  it('pauses mixed with partitions and kills: valid', { timeout: 150_000 }, async () => {
    await validRun(['--time', '40', '--seed', '303', '--nemesis', 'pause,partition,kill']);
  });

  it('cleans up everything when interrupted', { timeout: 60_000 }, async () => {
    let sent = false;
    const r = await runCli(['--time', '60', '--seed', '5'], (text, pid) => {
      if (!sent && text.includes('cluster up')) {
        sent = true;
        setTimeout(() => process.kill(pid, 'SIGINT'), 2000);
      }
    });
    assert.ok(sent, explain(r));
    assert.equal(r.code, 130, explain(r));
    await assertCleanedUp(r.out);
    rmSync(r.out, { recursive: true, force: true });
  });

  it('cleans up everything when the run fails', { timeout: 60_000 }, async () => {
    // An election timeout the nodes refuse: every node exits at once and the run fails.
    const r = await runCli(['--time', '10', '--heartbeat-interval', '100', '--election-timeout', '100']);
    assert.equal(r.code, 3, explain(r));
    assert.match(r.stderr, /did not become healthy/);
    await assertCleanedUp(r.out);
    rmSync(r.out, { recursive: true, force: true });
  });
});
