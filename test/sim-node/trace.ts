// Goal: a readable, replayable story of one simulated run. Every line carries the virtual time;
// with --trace a failing seed prints what happened (crashes, recoveries, partitions, stalls,
// client operations, the nodes' own log events) so that it can be read like a log, and two runs
// of one seed print the same lines. Message-level lines are opt-in (--trace-net): they are many.

import type { EventLog, LogFields, NodeLogLevel } from '../../src/node/logger.js';

export class Tracer {
  constructor(
    /** Print node, fault and client events. */
    readonly on: boolean,
    /** Also print every message sent, delivered and dropped. */
    readonly net: boolean,
    private readonly now: () => number,
    private readonly out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  ) {}

  event(kind: string, text: string): void {
    if (!this.on) return;
    this.out(`[t=${String(this.now()).padStart(6)}] ${kind.padEnd(9)} ${text}`);
  }
}

export function formatFields(fields: LogFields): string {
  let s = '';
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined || k === 'node') continue;
    const text = String(v);
    s += ` ${k}=${/[\s="]/.test(text) ? JSON.stringify(text) : text}`;
  }
  return s;
}

/**
 * One node incarnation's EventLog: counts every event by name (the fault-mix statistics), hands
 * each to a listener (invariant checks) and traces the info-and-above ones.
 */
export class SimEventLog implements EventLog {
  constructor(
    private readonly node: string,
    private readonly tracer: Tracer,
    private readonly listener: (node: string, level: NodeLogLevel, event: string, fields: LogFields) => void,
  ) {}

  log(level: NodeLogLevel, event: string, fields: LogFields = {}): void {
    this.listener(this.node, level, event, fields);
    if (level !== 'debug' && this.tracer.on)
      this.tracer.event(`${this.node}`, `${event}${formatFields(fields)}`);
  }
}
