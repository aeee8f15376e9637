// The node's log: one line per event that matters, human-readable or JSON (--log-format json).
// Every line names its event from the catalogue (log-events.ts): `event` is the stable name to
// match on, `msg` the sentence for people. The core's Logger interface is implemented here too —
// the bridge: core and storage sentences ("became leader") are mapped to their events, so they
// land in the same stream, named like the node's own.

import type { Logger, LogLevel } from '../raft/index.js';
import {
  type EventFields,
  type EventSpec,
  eventSpec,
  type LogEventName,
  logEvents,
  type NodeEventName,
  type NodeLogLevel,
} from './log-events.js';
import { type LogFormat, type NodeOptions, resolveNodeOptions } from './options.js';

export type { NodeLogLevel } from './log-events.js';

const rank: Record<NodeLogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** One event, named, ready to be written. */
export interface LogRecord {
  readonly level: NodeLogLevel;
  readonly event: LogEventName;
  readonly msg: string;
  readonly fields: LogFields;
}

/**
 * Where the node's components log: a NodeLogger, or a collecting logger in simulations. `emit`
 * for the node's own events; `log` (the core's Logger) is the bridge for the core and storage.
 */
export interface EventLog extends Logger {
  emit<E extends NodeEventName>(event: E, fields: EventFields<E>): void;
}

export interface BridgedEvent {
  readonly event: LogEventName;
  /** What the pattern's named groups captured, to log as fields. */
  readonly captured: Readonly<Record<string, string>>;
}

const bridged = Object.entries(logEvents as Readonly<Record<string, EventSpec>>).filter(
  ([name, spec]) => spec.from !== 'node' && name !== 'unmapped',
) as [LogEventName, EventSpec][];
const bySentence = new Map(bridged.filter(([, s]) => s.pattern === undefined).map(([n, s]) => [s.msg, n]));
const byPattern = bridged.filter(([, s]) => s.pattern !== undefined);

/** The event a sentence of the core or storage stands for (`unmapped` if none). */
export function bridgedEvent(sentence: string): BridgedEvent {
  const named = bySentence.get(sentence);
  if (named !== undefined) return { event: named, captured: {} };
  for (const [event, spec] of byPattern) {
    const m = spec.pattern?.exec(sentence);
    if (m) return { event, captured: { ...m.groups } };
  }
  return { event: 'unmapped', captured: {} };
}

/** Logs nothing (tests of one component). */
export const silentEventLog: EventLog = { emit: () => {}, log: () => {} };

/** The record of one of the node's own events: its level and sentence from the catalogue. */
export function nodeRecord<E extends NodeEventName>(event: E, fields: EventFields<E>): LogRecord {
  const spec = eventSpec(event);
  return { level: spec.level, event, msg: spec.msg, fields: fields as LogFields };
}

/**
 * The record of a core or storage sentence: the event it stands for, the sentence as `msg`, the
 * parts the event's pattern captured as fields. The core adds `node` to every event (the line
 * names its node anyway); it is dropped here.
 */
export function bridgedRecord(level: LogLevel, sentence: string, fields: LogFields): LogRecord {
  const { event, captured } = bridgedEvent(sentence);
  const { node: _node, ...rest } = fields;
  return { level, event, msg: sentence, fields: { ...captured, ...rest } };
}

/** The line of a record, in either format. */
export function formatRecord(format: LogFormat, time: string, nodeId: string, r: LogRecord): string {
  if (format === 'json') {
    const line: Record<string, unknown> = { time, level: r.level, node: nodeId, event: r.event, msg: r.msg };
    for (const [k, v] of Object.entries(r.fields)) if (v !== undefined && !(k in line)) line[k] = v;
    return JSON.stringify(line);
  }
  let line = `${time} ${r.level.toUpperCase().padEnd(5)} ${nodeId} ${r.msg} event=${r.event}`;
  for (const [k, v] of Object.entries(r.fields)) {
    if (v === undefined) continue;
    const s = String(v);
    line += ` ${k}=${/[\s="]/.test(s) ? JSON.stringify(s) : s}`;
  }
  return line;
}

export class NodeLogger implements EventLog {
  /** The logger a node started with these options logs through (their format, level and sink). */
  static of(options: NodeOptions): NodeLogger {
    const o = resolveNodeOptions(options);
    return new NodeLogger(o.id, o.logFormat, o.logLevel, o.logSink);
  }

  constructor(
    private readonly nodeId: string,
    private readonly format: LogFormat,
    private readonly minLevel: NodeLogLevel,
    private readonly sink: (line: string) => void,
  ) {}

  emit<E extends NodeEventName>(event: E, fields: EventFields<E>): void {
    if (this.filtered(eventSpec(event).level)) return;
    this.write(nodeRecord(event, fields));
  }

  log(level: LogLevel, sentence: string, fields: LogFields): void {
    // Checked before the sentence is matched against the catalogue: a core's debug sentence
    // below the level costs nothing more than this comparison.
    if (this.filtered(level)) return;
    this.write(bridgedRecord(level, sentence, fields));
  }

  private filtered(level: NodeLogLevel): boolean {
    return rank[level] < rank[this.minLevel];
  }

  /** Callers have checked the level already (emit, log). */
  private write(r: LogRecord): void {
    this.sink(formatRecord(this.format, new Date().toISOString(), this.nodeId, r));
  }
}
