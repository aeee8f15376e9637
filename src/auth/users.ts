// The users an auth file names, and finding the one a bearer token belongs to. Every user's token
// is checked, matched or not, so the time a request takes does not say which user (if any) came
// close; each check is a constant-time comparison of equal-length digests (token-hash.ts).

import type { Role } from './roles.js';
import { type StoredToken, tokenMatches } from './token-hash.js';

export interface AuthUser {
  readonly name: string;
  readonly role: Role;
  /** The keys this user may touch: those starting with one of these; null for every key. */
  readonly prefixes: readonly string[] | null;
}

export interface UserEntry extends AuthUser {
  readonly token: StoredToken;
}

export class UserTable {
  constructor(readonly users: readonly UserEntry[]) {}

  /** The user whose token this is, or null. */
  byToken(token: string): AuthUser | null {
    let found: AuthUser | null = null;
    for (const u of this.users) {
      if (tokenMatches(u.token, token) && found === null) found = u;
    }
    return found;
  }

  /** The user an `Authorization` header names (`Bearer TOKEN`), or null for none or a wrong one. */
  byAuthorization(header: string | undefined): AuthUser | null {
    if (header === undefined) return null;
    const m = /^bearer +(\S+) *$/i.exec(header);
    return m === null ? null : this.byToken(m[1]!);
  }
}

/** Whether `user` may touch `key`. */
export function mayTouchKey(user: AuthUser, key: string): boolean {
  return user.prefixes === null || user.prefixes.some((p) => key.startsWith(p));
}

/**
 * Whether `user` may list under `prefix`: only when every key the list could return is one it may
 * touch, i.e. the list's prefix starts with one of the user's.
 */
export function mayListPrefix(user: AuthUser, prefix: string): boolean {
  return mayTouchKey(user, prefix);
}
