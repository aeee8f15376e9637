// Addresses for nodes that tests start on this machine.

import net from 'node:net';

export const LOOPBACK = '127.0.0.1';

/** `count` distinct free ports on `host`: all bound to port 0 at once, read, then closed. */
export async function freePorts(count: number, host = LOOPBACK): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => resolve());
      });
      const a = server.address();
      if (a === null || typeof a === 'string') throw new Error('no port');
      ports.push(a.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/**
 * `count` consecutive free ports on `host` (for `raftkv cluster --base-port`, which numbers its
 * nodes' ports, and `cluster add`, which takes the next one): a random base, every port bound at
 * once, tried again elsewhere if any is taken.
 */
export async function freeConsecutivePorts(count: number, host = LOOPBACK): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    // Below Linux's ephemeral range (32768-), where outgoing connections take their ports.
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const servers: net.Server[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const server = net.createServer();
        servers.push(server);
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(base + i, host, () => resolve());
        });
      }
      return base;
    } catch {
      // One of them is taken: another base.
    } finally {
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    }
  }
  throw new Error(`no ${count} consecutive free ports found on ${host}`);
}
