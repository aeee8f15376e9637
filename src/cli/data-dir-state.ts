// What a node's data dir holds, as far as deciding whether a node may start on it goes: nothing
// yet, a node (the identity written at its first start: which node of which cluster), or files
// that are not a node's. Read before a node is started, so a refusal can say how to fix it.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeIdentity, IDENTITY_FILE, type StorageIdentity } from '../storage/identity.js';
import { describeError } from './io.js';

export type DataDirState =
  /** Missing or empty: a node starting on it starts afresh. */
  | { readonly kind: 'fresh' }
  | { readonly kind: 'node'; readonly identity: StorageIdentity }
  /** Something else: `why` says what. */
  | { readonly kind: 'unknown'; readonly why: string };

export function inspectDataDir(dir: string): DataDirState {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'fresh' };
    return { kind: 'unknown', why: `cannot be read: ${describeError(e)}` };
  }
  if (names.length === 0) return { kind: 'fresh' };
  if (!names.includes(IDENTITY_FILE)) {
    return { kind: 'unknown', why: `holds files but no ${IDENTITY_FILE} (whose data it is)` };
  }
  const path = join(dir, IDENTITY_FILE);
  try {
    return { kind: 'node', identity: decodeIdentity(readFileSync(path), path) };
  } catch (e) {
    return { kind: 'unknown', why: `has an unreadable ${IDENTITY_FILE}: ${describeError(e)}` };
  }
}
