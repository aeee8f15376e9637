// Goal: a readable, replayable story of one simulated run. Every line carries the virtual time;
// with --trace a failing seed prints what happened (crashes, recoveries, partitions, stalls,
// client operations, the nodes' own log events) so that it can be read like a log, and two runs
// of one seed print the same lines. Message-level lines are opt-in (--trace-net): they are many.

import type { EventFields, NodeEventName } from '../../src/node/log-events.js';
import {
  bridgedRecord,
  type EventLog,
  type LogFields,
  type LogRecord,
  type NodeLogLevel,
  nodeRecord,
} from '../../src/node/logger.js';
import type { LogLevel } from '../../src/raft/index.js';

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

  emit<E extends NodeEventName>(event: E, fields: EventFields<E>): void {
    this.record(nodeRecord(event, fields));
  }

  log(level: LogLevel, sentence: string, fields: LogFields): void {
    this.record(bridgedRecord(level, sentence, fields));
  }

  private record(r: LogRecord): void {
    this.listener(this.node, r.level, r.event, r.fields);
    if (r.level !== 'debug' && this.tracer.on)
      this.tracer.event(`${this.node}`, `${r.event}${formatFields(r.fields)}`);
  }
}
