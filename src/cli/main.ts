#!/usr/bin/env node

// The `raftkv` command: wires the process (argv, env, signals, stdio) to runCli.

import { clusterTiming, selfCommand } from './cluster.js';
import { describeError, exitAfterFlush, processIo } from './io.js';
import { runCli } from './run.js';
import { processSignals, processStdinClosed } from './start.js';

try {
  const code = await runCli(process.argv.slice(2), process.env, {
    io: processIo,
    startNode: async () => (await import('../app/start-node.js')).startNode,
    start: { onSignal: processSignals, onStdinClosed: processStdinClosed },
    cluster: { onSignal: processSignals, command: selfCommand(), ...clusterTiming },
  });
  await exitAfterFlush(code);
} catch (e) {
  process.stderr.write(`raftkv: internal error: ${describeError(e)}\n`);
  if (e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  await exitAfterFlush(1);
}
