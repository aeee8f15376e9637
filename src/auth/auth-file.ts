// The --auth-file (docs/security.md): `{"users": [{"name", "token" | "tokenHash", "role",
// "prefixes"?}]}`. Parsed whole or refused whole, with a message naming the field that is wrong:
// a node must never start, or reload, with half a user list.

import { readFile } from 'node:fs/promises';
import { isRole, roles } from './roles.js';
import { parseTokenHash, storedTokenOf, tokenHashScheme } from './token-hash.js';
import { type UserEntry, UserTable } from './users.js';

export class AuthFileError extends Error {
  override readonly name = 'AuthFileError';
}

/** A token in the clear: long enough to be a random secret, and what an HTTP header carries. */
const tokenPattern = /^[\x21-\x7e]{16,512}$/;
const userFields = new Set(['name', 'token', 'tokenHash', 'role', 'prefixes']);

/** Reads and parses the auth file; AuthFileError names the file and what is wrong in it. */
export async function readAuthFile(path: string): Promise<UserTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new AuthFileError(`auth file ${path}: cannot read it: ${(e as Error).message}`);
  }
  try {
    return parseAuthFile(text);
  } catch (e) {
    if (e instanceof AuthFileError) throw new AuthFileError(`auth file ${path}: ${e.message}`);
    throw e;
  }
}

export function parseAuthFile(text: string): UserTable {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new AuthFileError(`not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(parsed) || !Array.isArray(parsed.users)) {
    throw new AuthFileError('must be a JSON object {"users": [...]}');
  }
  for (const field of Object.keys(parsed)) {
    if (field !== 'users') throw new AuthFileError(`unknown field "${field}" (expected users)`);
  }
  if (parsed.users.length === 0) throw new AuthFileError('users is empty: name at least one user');
  const users = parsed.users.map((u: unknown, i: number) => parseUser(u, `users[${i}]`));
  const names = new Set<string>();
  for (const u of users) {
    if (names.has(u.name)) throw new AuthFileError(`user "${u.name}" is named twice`);
    names.add(u.name);
  }
  const tokens = new Set<string>();
  for (const u of users) {
    const digest = u.token.salt.length === 0 ? u.token.digest.toString('hex') : null;
    if (digest === null) continue;
    if (tokens.has(digest)) throw new AuthFileError(`user "${u.name}" has the token of another user`);
    tokens.add(digest);
  }
  return new UserTable(users);
}

function parseUser(u: unknown, where: string): UserEntry {
  if (!isObject(u)) throw new AuthFileError(`${where} must be an object {"name", "token", "role"}`);
  for (const field of Object.keys(u)) {
    if (!userFields.has(field)) {
      throw new AuthFileError(
        `${where}: unknown field "${field}" (expected name, token or tokenHash, role, prefixes)`,
      );
    }
  }
  const { name, token, tokenHash, role, prefixes } = u;
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) {
    throw new AuthFileError(`${where}.name must be a non-empty string of at most 256 characters`);
  }
  const who = `user "${name}"`;
  if (!isRole(role)) {
    const got = typeof role === 'string' ? `"${role}"` : (JSON.stringify(role) ?? 'nothing');
    throw new AuthFileError(`${who}: role must be ${roles.map((r) => `"${r}"`).join(', ')}; got ${got}`);
  }
  if ((token === undefined) === (tokenHash === undefined)) {
    throw new AuthFileError(`${who}: give exactly one of token and tokenHash`);
  }
  let stored: UserEntry['token'];
  if (token !== undefined) {
    if (typeof token !== 'string' || !tokenPattern.test(token)) {
      throw new AuthFileError(
        `${who}: token must be 16 to 512 printable ASCII characters without spaces (make it random: docs/security.md)`,
      );
    }
    stored = storedTokenOf(token);
  } else {
    const hash = typeof tokenHash === 'string' ? parseTokenHash(tokenHash) : null;
    if (hash === null) {
      throw new AuthFileError(
        `${who}: tokenHash must be "${tokenHashScheme}$<salt: at least 8 bytes, hex>$<SHA-256, 64 hex digits>" (docs/security.md shows how to make one)`,
      );
    }
    stored = hash;
  }
  return { name, role, prefixes: parsePrefixes(prefixes, who), token: stored };
}

function parsePrefixes(prefixes: unknown, who: string): readonly string[] | null {
  if (prefixes === undefined) return null;
  if (!Array.isArray(prefixes) || prefixes.some((p) => typeof p !== 'string' || p.length === 0)) {
    throw new AuthFileError(
      `${who}: prefixes must be a list of non-empty key prefixes (leave it out for every key)`,
    );
  }
  return prefixes as string[];
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
