// Auth files for tests: one user per role (and two limited to the prefix `app/`), their tokens,
// written to a temp file whose removal is registered with the test's `after` hook.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Role } from '../../src/auth/index.js';

export interface TestUser {
  readonly name: string;
  readonly token: string;
  readonly role: Role;
  readonly prefixes?: readonly string[];
}

export const testUsers = {
  reader: { name: 'reader', token: 'reader-token-0123456789', role: 'read' },
  writer: { name: 'writer', token: 'writer-token-0123456789', role: 'readwrite' },
  admin: { name: 'admin', token: 'admin-token-0123456789', role: 'admin' },
  appReader: { name: 'app-reader', token: 'app-reader-token-0123456789', role: 'read', prefixes: ['app/'] },
  appWriter: {
    name: 'app-writer',
    token: 'app-writer-token-0123456789',
    role: 'readwrite',
    prefixes: ['app/'],
  },
} as const satisfies Readonly<Record<string, TestUser>>;

/** Writes `{"users": [...]}` to a new temp file and returns its path (removed after the test). */
export async function writeAuthFile(
  t: { after: (fn: () => Promise<void>) => void },
  users: readonly TestUser[] = Object.values(testUsers),
): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-auth-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'auth.json');
  await writeFile(file, JSON.stringify({ users }));
  return file;
}

export function bearer(token: string): Readonly<Record<string, string>> {
  return { authorization: `Bearer ${token}` };
}
