// Stored tokens: a token may sit in the auth file as a salted SHA-256 instead of in the clear, so a
// copy of the file does not give the tokens away. SHA-256, not a slow password hash (scrypt): a
// bearer token is checked on every request, and etcd's users saw every GET slow from 0.6 ms to
// 140 ms when a slow hash ran per request (etcd#3223, #5840); a slow hash only protects secrets a
// person chose, while these are random (docs/security.md says to make them 128 bits or more), so a
// fast one is as hard to reverse. The salt keeps two users' equal tokens from looking equal.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** `sha256$<salt, hex>$<SHA-256 of the salt's bytes then the token's UTF-8, hex>` */
export const tokenHashScheme = 'sha256';
const saltBytes = 16;
const minSaltBytes = 8;

export interface TokenHash {
  readonly salt: Buffer;
  readonly digest: Buffer;
}

function sha256(...parts: readonly (Buffer | string)[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The `tokenHash` string for `token` (a fresh random salt unless one is given). */
export function hashToken(token: string, salt: Buffer = randomBytes(saltBytes)): string {
  return `${tokenHashScheme}$${salt.toString('hex')}$${sha256(salt, token).toString('hex')}`;
}

/** Parses a `tokenHash` string; null when it is not one (the caller names the field). */
export function parseTokenHash(text: string): TokenHash | null {
  const m = /^sha256\$((?:[0-9a-f]{2})+)\$([0-9a-f]{64})$/.exec(text);
  if (m === null) return null;
  const salt = Buffer.from(m[1]!, 'hex');
  if (salt.length < minSaltBytes) return null;
  return { salt, digest: Buffer.from(m[2]!, 'hex') };
}

/** A token as kept in memory: its digest only, whether the file held it in the clear or hashed. */
export type StoredToken = TokenHash;

/** The in-memory form of a token given in the clear (no salt needed: it never leaves memory). */
export function storedTokenOf(token: string): StoredToken {
  const salt = Buffer.alloc(0);
  return { salt, digest: sha256(salt, token) };
}

/**
 * Whether `presented` is the stored token. Both sides are SHA-256 digests of equal length, compared
 * with timingSafeEqual: how long the check takes says nothing about how much of a guess was right.
 */
export function tokenMatches(stored: StoredToken, presented: string): boolean {
  return timingSafeEqual(sha256(stored.salt, presented), stored.digest);
}
