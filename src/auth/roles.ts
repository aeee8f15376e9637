// The three roles of an auth file, each allowed everything the one before it is: `read` reads keys,
// `readwrite` also writes them, `admin` also runs the cluster (membership, backups, /debug).

export const roles = ['read', 'readwrite', 'admin'] as const;
export type Role = (typeof roles)[number];

export function isRole(x: unknown): x is Role {
  return typeof x === 'string' && (roles as readonly string[]).includes(x);
}

/** Whether a user with role `held` may do what needs `needed`. */
export function roleCovers(held: Role, needed: Role): boolean {
  return roles.indexOf(held) >= roles.indexOf(needed);
}
