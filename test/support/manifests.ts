// Reading the deployment files (Compose, Kubernetes, the Dockerfile) in tests: the repository's
// files by name, and typed views of parsed YAML that fail the test, naming the place, when the
// shape is not what the test expects.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

export type Yaml = unknown;

/** The repository's root (tests run from dist/test/). */
export const repoRoot = new URL('../../../', import.meta.url);

export function readRepoFile(name: string): string {
  return readFileSync(new URL(name, repoRoot), 'utf8');
}

export function asMap(v: Yaml | undefined, what: string): { [key: string]: Yaml } {
  assert.ok(v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v), `${what} is a map`);
  return v as { [key: string]: Yaml };
}

export function asList(v: Yaml | undefined, what: string): Yaml[] {
  assert.ok(Array.isArray(v), `${what} is a list`);
  return v as Yaml[];
}

export function asStrings(v: Yaml | undefined, what: string): string[] {
  assert.ok(Array.isArray(v) && v.every((x) => typeof x === 'string'), `${what} is a list of strings`);
  return v as string[];
}

export function asEnv(v: Yaml | undefined, what: string): Record<string, string> {
  const m = asMap(v, what);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(m)) {
    assert.equal(typeof x, 'string', `${what}.${k} is a string`);
    out[k] = x as string;
  }
  return out;
}

/** The Dockerfile's runtime stage (after the last FROM), without comments and blank lines. */
export function dockerRuntimeStage(): string[] {
  const lines = readRepoFile('Dockerfile')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
  const from = lines.map((l, i) => (l.startsWith('FROM ') ? i : -1)).filter((i) => i >= 0);
  return lines.slice(from.at(-1));
}
