// Storage benchmark: sustained fsync'd WAL appends with group commit at 1, 16 and 256 concurrent
// proposers (each proposer saves one entry and waits for the sync that makes it durable, then
// proposes again), next to the raw fdatasync rate of the same disk. Uses RealDisk in a temp dir
// (under $TMPDIR, or --dir) and removes it afterwards. Not part of the tests.
//
// Run: npm run bench:storage -- [--seconds 3] [--size 128] [--dir /path/on/the/disk]

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Entry } from '../src/raft/types.js';
import { type Disk, type DiskFile, RealDisk, Wal } from '../src/storage/index.js';

/** RealDisk that counts file fdatasyncs, to report how many entries share each one. */
class CountingDisk extends RealDisk {
  fileSyncs = 0;

  override async create(path: string): Promise<DiskFile> {
    return this.counted(await super.create(path));
  }

  override async openAppend(path: string): Promise<DiskFile> {
    return this.counted(await super.openAppend(path));
  }

  private counted(f: DiskFile): DiskFile {
    return {
      path: f.path,
      append: (d) => f.append(d),
      sync: () => {
        this.fileSyncs++;
        return f.sync();
      },
      close: () => f.close(),
    };
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function rawFdatasync(disk: Disk, dir: string, seconds: number, size: number): Promise<void> {
  const f = await disk.create(join(dir, 'raw.bin'));
  const block = new Uint8Array(size).fill(7);
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  let n = 0;
  while (performance.now() < deadline) {
    await f.append(block);
    await f.sync();
    n++;
  }
  const elapsed = (performance.now() - start) / 1000;
  await f.close();
  console.log(
    `raw ${size}-byte append + fdatasync: ${(n / elapsed).toFixed(0)}/s (${n} in ${elapsed.toFixed(1)} s)`,
  );
}

async function walWithProposers(
  dir: string,
  proposers: number,
  seconds: number,
  size: number,
): Promise<void> {
  const disk = new CountingDisk();
  const { wal } = await Wal.open(disk, dir);
  const payload = new Uint8Array(size).fill(42);
  let next = 1;
  let bytes = 0;
  const latencies: number[] = [];
  const syncsBefore = disk.fileSyncs;
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  const proposer = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const e: Entry = { index: next++, term: 1, type: 'command', data: payload };
      const t0 = performance.now();
      wal.save([e], null);
      bytes += size;
      await wal.sync();
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: proposers }, proposer));
  const elapsed = (performance.now() - start) / 1000;
  const syncs = disk.fileSyncs - syncsBefore;
  await wal.close();
  latencies.sort((a, b) => a - b);
  const entries = latencies.length;
  console.log(
    `WAL, ${String(proposers).padStart(3)} proposers: ${(entries / elapsed).toFixed(0).padStart(7)} entries/s, ` +
      `${(bytes / elapsed / 1e6).toFixed(2)} MB/s payload, ${(entries / Math.max(syncs, 1)).toFixed(1)} entries/fdatasync, ` +
      `commit latency p50 ${percentile(latencies, 50).toFixed(2)} ms p99 ${percentile(latencies, 99).toFixed(2)} ms`,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '3' },
      size: { type: 'string', default: '128' },
      dir: { type: 'string' },
    },
  });
  const seconds = Number(values.seconds);
  const size = Number(values.size);
  const root = await mkdtemp(join(values.dir ?? tmpdir(), 'raftkv-bench-'));
  console.log(`disk: ${root}; ${seconds} s per case; ${size}-byte entries`);
  try {
    await rawFdatasync(new RealDisk(), root, seconds, size);
    for (const p of [1, 16, 256]) await walWithProposers(join(root, `wal-${p}`), p, seconds, size);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
