// What the certificate maker accepts, checked without loading it: validity in days, node ids
// (they name files), client names. Pure; each check returns why a value is refused, or null.

import { isNodeId } from '../api/addresses.js';

/** Node and client certificates last this long unless told otherwise. */
export const defaultCertDays = 365;
/** The CA lasts ten years: its certificate is handed to every node and client once. */
export const caDays = 3650;
export const defaultClientName = 'client';

/** Ids whose files would be the CA's or the client's. */
const reservedIds = new Set(['ca', 'client']);

/** Why `id` cannot name a node's certificate files, or null. */
export function nodeIdProblem(id: string): string | null {
  if (!isNodeId(id)) return `"${id}" is not a valid node id (letters, digits, ".", "_", "-"; at most 128)`;
  if (reservedIds.has(id)) {
    return `node id "${id}" would overwrite the ${id === 'ca' ? 'CA' : 'client'}'s files (${id}.pem)`;
  }
  return null;
}

/** Why `name` cannot be a client certificate's common name, or null. */
export function clientNameProblem(name: string): string | null {
  // 64: the upper bound X.520 sets on a common name.
  if (name.length < 1 || name.length > 64 || /\p{Cc}/u.test(name)) {
    return `the client name "${name}" must be 1-64 characters without control characters`;
  }
  return null;
}

/** Why `days` cannot be a certificate's validity, or null. */
export function daysProblem(days: number): string | null {
  return Number.isInteger(days) && days >= 1 && days <= caDays
    ? null
    : `days must be a whole number from 1 to ${caDays}, got ${days}`;
}
