// The one way the snapshot commands print what they did: with --json, one JSON object on one line
// (its fields in the order given, as docs/cli.md lists them), for scripts; else the text for people.

import type { Io } from './io.js';

export function printSnapshotResult(
  io: Io,
  json: boolean,
  result: Readonly<Record<string, unknown>>,
  text: string,
): void {
  io.out(json ? `${JSON.stringify(result)}\n` : text);
}
