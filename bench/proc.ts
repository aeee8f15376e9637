// What the benchmarks read from /proc (Linux): CPU time and memory of a process, busy time of the
// whole machine. NaN (or null) elsewhere, or once the process is gone.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second, the unit of /proc's CPU times. */
export const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * [utime + stime, cutime + cstime] of a process in seconds (cutime: its children already reaped),
 * or null.
 */
export function cpuTimes(pid: number | 'self'): [number, number] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which is in parentheses and may hold spaces).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const t = (i: number): number => Number(f[i]) / clockTicks;
    return [t(11) + t(12), t(13) + t(14)];
  } catch {
    return null;
  }
}

/** user + system CPU seconds of a process so far, or NaN. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  return cpuTimes(pid)?.[0] ?? Number.NaN;
}

/** A memory field of /proc/PID/status (in kB there) in MiB, or NaN. */
function statusMiB(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  if (pid === undefined) return Number.NaN;
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? Number.NaN : Number(m[1]) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** Resident set size in MiB (VmRSS), or NaN. */
export function rssMiB(pid: number | undefined): number {
  return statusMiB(pid, 'VmRSS');
}

/** Peak resident set size so far in MiB (VmHWM), or NaN. */
export function peakRssMiB(pid: number | undefined): number {
  return statusMiB(pid, 'VmHWM');
}

/**
 * Busy CPU seconds of the whole machine, all cores (/proc/stat), to see load from other processes.
 * Interrupt time is left out: loopback networking runs there and is charged to no process.
 */
export function machineBusy(): number | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const notBusy = (f[3] ?? 0) + (f[4] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0); // idle, iowait, irq, softirq
    return (f.slice(0, 8).reduce((a, b) => a + b, 0) - notBusy) / clockTicks;
  } catch {
    return null;
  }
}
