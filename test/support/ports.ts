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
