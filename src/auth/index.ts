// Users, roles and bearer tokens (docs/security.md): the auth file, and finding a token's user.

export { AuthFileError, parseAuthFile, readAuthFile } from './auth-file.js';
export { isRole, type Role, roleCovers, roles } from './roles.js';
export { hashToken, parseTokenHash, tokenMatches } from './token-hash.js';
export { type AuthUser, mayListPrefix, mayTouchKey, UserTable } from './users.js';
