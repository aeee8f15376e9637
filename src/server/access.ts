// Who may call which route (docs/security.md): one table from route to the role it needs, and the
// key checks for users limited to prefixes. Both run before the request reaches the node, so a
// refused caller learns nothing about the keys (not even whether one exists).

import { PermissionDeniedError, UnauthenticatedError } from '../api/errors.js';
import {
  type AuthUser,
  mayListPrefix,
  mayTouchKey,
  type Role,
  roleCovers,
  type UserTable,
} from '../auth/index.js';
import type { ClientRequest, Route } from './validate.js';

/** What a route needs: no credentials at all, a role, or (for /metrics) whatever --metrics-auth says. */
export type Requirement = 'open' | 'metrics' | Role;

export const routeRequirements: Readonly<Record<Route, Requirement>> = {
  // Probes stay open: an orchestrator's health check carries no token.
  health: 'open',
  livez: 'open',
  readyz: 'open',
  metrics: 'metrics',
  get: 'read',
  list: 'read',
  put: 'readwrite',
  txn: 'readwrite',
  delete: 'readwrite',
  debug: 'admin',
  // The page and its files hold no data; the state it shows is /debug's, for admins.
  ui: 'open',
  uiAsset: 'open',
  uiState: 'admin',
  uiFaults: 'admin',
  // Kills and restarts nodes: as much an operator's tool as fault injection.
  uiProcess: 'admin',
  // Runs an exercise: kills, isolates and partitions nodes like the buttons above.
  uiExercises: 'admin',
  uiExercise: 'admin',
  snapshot: 'admin',
  backup: 'admin',
  alarms: 'admin',
  alarm: 'admin',
  members: 'admin',
  memberAdd: 'admin',
  memberPromote: 'admin',
  memberRemove: 'admin',
  leaderMove: 'admin',
  watch: 'read',
  // Fault injection can partition and pause the node: an operator's tool, like the membership.
  faults: 'admin',
  faultsSet: 'admin',
  faultsHeal: 'admin',
  // Leases (docs/security.md): granting, renewing and revoking one is writing; reading one is
  // reading. A user limited to prefixes may not revoke or read one (see checkKeys).
  leaseGrant: 'readwrite',
  leaseKeepalive: 'readwrite',
  leaseRevoke: 'readwrite',
  leaseInfo: 'read',
};

export interface AccessOptions {
  /** The users now in force; replaced on reload (SIGHUP). */
  readonly users: () => UserTable;
  /** GET /metrics needs an admin too (default: open, like the probes). */
  readonly metricsAuth: boolean;
}

export class AccessControl {
  constructor(private readonly options: AccessOptions) {}

  /** The role `route` needs, or null when it is open. */
  required(route: Route): Role | null {
    const r = routeRequirements[route];
    if (r === 'open') return null;
    if (r === 'metrics') return this.options.metricsAuth ? 'admin' : null;
    return r;
  }

  /**
   * The caller of `route`, by its Authorization header: null for an open route. Throws
   * UnauthenticatedError (no or unknown token) or PermissionDeniedError (role too low).
   */
  admit(route: Route, authorization: string | undefined): AuthUser | null {
    const needed = this.required(route);
    if (needed === null) return null;
    const user = this.options.users().byAuthorization(authorization);
    if (user === null) {
      throw new UnauthenticatedError(
        authorization === undefined
          ? 'this node requires a token: send Authorization: Bearer TOKEN'
          : 'the token is not valid (expected Authorization: Bearer TOKEN with a token of the auth file)',
      );
    }
    if (!roleCovers(user.role, needed)) {
      throw new PermissionDeniedError(
        `user "${user.name}" (role ${user.role}) may not ${describe(route)}: it needs role ${needed}`,
        { user: user.name, required: needed },
      );
    }
    return user;
  }

  /** Refuses a request for keys outside the user's prefixes (PermissionDeniedError). */
  checkKeys(user: AuthUser, request: ClientRequest): void {
    if (user.prefixes === null) return;
    const denied = (what: string): PermissionDeniedError =>
      new PermissionDeniedError(
        `user "${user.name}" may not touch ${what}: it may touch only keys starting with ${user.prefixes
          ?.map((p) => JSON.stringify(p))
          .join(', ')}`,
        { user: user.name, prefixes: user.prefixes },
      );
    switch (request.route) {
      case 'put':
        if (!mayTouchKey(user, request.put.key)) throw denied(`key ${JSON.stringify(request.put.key)}`);
        return;
      case 'delete':
        if (!mayTouchKey(user, request.del.key)) throw denied(`key ${JSON.stringify(request.del.key)}`);
        return;
      case 'get':
        if (!mayTouchKey(user, request.key)) throw denied(`key ${JSON.stringify(request.key)}`);
        return;
      case 'txn': {
        const { compare, success, failure } = request.txn;
        for (const { key } of [...compare, ...success, ...failure]) {
          if (!mayTouchKey(user, key)) throw denied(`key ${JSON.stringify(key)} (named in the transaction)`);
        }
        return;
      }
      case 'list':
        // Refused rather than cut down to the user's prefixes: a list quietly missing keys would
        // look complete (`more: false`) to a caller who cannot tell.
        if (!mayListPrefix(user, request.query.prefix)) {
          throw denied(
            `the keys under prefix ${JSON.stringify(request.query.prefix)} (list a prefix of its own)`,
          );
        }
        return;
      case 'watch': {
        // A key as GET /kv/{key}, a prefix as a listing: refused, not narrowed.
        const w = request.watch;
        if (w.key !== undefined) {
          if (!mayTouchKey(user, w.key)) throw denied(`key ${JSON.stringify(w.key)}`);
        } else if (!mayListPrefix(user, w.prefix)) {
          throw denied(`the keys under prefix ${JSON.stringify(w.prefix)} (watch a prefix of its own)`);
        }
        return;
      }
      case 'leaseRevoke':
      case 'leaseInfo':
        // Any writer's keys may be tied to any lease: revoking one would delete keys outside the
        // user's prefixes, reading one would name them. Such a user deletes its own keys instead
        // (DELETE /kv/{key}, checked as usual) and lets the lease run out.
        throw new PermissionDeniedError(
          `user "${user.name}" may not ${describe(request.route)}: a lease may hold keys outside its prefixes (${user.prefixes
            .map((p) => JSON.stringify(p))
            .join(', ')}); delete your keys instead and let the lease expire`,
          { user: user.name, prefixes: user.prefixes },
        );
      default:
        return;
    }
  }
}

function describe(route: Route): string {
  switch (route) {
    case 'put':
      return 'write keys (POST /kv)';
    case 'delete':
      return 'delete keys (DELETE /kv/{key})';
    case 'txn':
      return 'run transactions (POST /txn)';
    case 'get':
    case 'list':
      return 'read keys';
    case 'watch':
      return 'watch keys';
    case 'metrics':
      return 'read /metrics (--metrics-auth)';
    case 'leaseGrant':
      return 'grant leases (POST /leases)';
    case 'leaseKeepalive':
      return 'keep leases alive (POST /leases/{id}/keepalive)';
    case 'leaseRevoke':
      return 'revoke leases (DELETE /leases/{id})';
    case 'leaseInfo':
      return 'read leases (GET /leases/{id})';
    case 'faults':
    case 'faultsSet':
    case 'faultsHeal':
      return 'use fault injection (/admin/faults)';
    case 'uiExercises':
    case 'uiExercise':
      return 'run the exercises (/ui/exercises)';
    default:
      return `use the ${route} route`;
  }
}
