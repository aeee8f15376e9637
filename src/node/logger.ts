// The node's log: one line per event that matters, human-readable or JSON (--log-format json).
// The core's Logger interface is implemented here, so core events ("became leader", "ignored
// AppendEntries: stale term") land in the same stream as the node's own.

import type { Logger, LogLevel } from '../raft/index.js';
import type { LogFormat } from './options.js';

export type NodeLogLevel = LogLevel | 'error';

const rank: Record<NodeLogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** Where the node's components log: a NodeLogger, or a collecting logger in simulations. */
export interface EventLog extends Logger {
  log(level: NodeLogLevel, event: string, fields?: LogFields): void;
}

export class NodeLogger implements EventLog {
  constructor(
    private readonly nodeId: string,
    private readonly format: LogFormat,
    private readonly minLevel: NodeLogLevel,
    private readonly sink: (line: string) => void,
  ) {}

  log(level: NodeLogLevel, event: string, fields: LogFields = {}): void {
    if (rank[level] < rank[this.minLevel]) return;
    const time = new Date().toISOString();
    if (this.format === 'json') {
      const record: Record<string, unknown> = { time, level, node: this.nodeId, event };
      for (const [k, v] of Object.entries(fields)) if (v !== undefined && k !== 'node') record[k] = v;
      this.sink(JSON.stringify(record));
      return;
    }
    let line = `${time} ${level.toUpperCase().padEnd(5)} ${this.nodeId} ${event}`;
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined || k === 'node') continue;
      const s = String(v);
      line += ` ${k}=${/[\s="]/.test(s) ? JSON.stringify(s) : s}`;
    }
    this.sink(line);
  }
}
