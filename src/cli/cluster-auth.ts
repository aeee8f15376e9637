// `raftkv cluster --auth-file FILE`: the token its nodes use for their own calls to each other (a
// follower's no-space alarm to the leader, docs/security.md) and the supervisor for its polls of
// GET /debug — both need an admin's. The one given (--token or RAFTKV_TOKEN) if any, else the
// first admin of the file whose token is in the clear (a hashed one cannot be sent). Said by the
// user's name, never by the token.

import { readFileSync } from 'node:fs';
import { AuthFileError, parseAuthFile } from '../auth/index.js';
import { type Env, type ParsedArgs, sourceOf, stringOption, UsageError } from './args.js';
import { type ReadFile, tokenOption } from './connection-options.js';

export interface NodesToken {
  /** The token to give the nodes; undefined when there is none to give. */
  readonly token?: string;
  /** One line for the supervisor to print: whose token it is, or why there is none. */
  readonly note: string;
}

/** The file's users as written (the fields parseAuthFile has already checked). */
interface RawUser {
  readonly name: string;
  readonly role: string;
  readonly token?: string;
}

/**
 * Reads and checks `file` (UsageError naming it when it cannot be read or is not valid) and picks
 * the token: `given` (with `what`, where it came from), else the first admin's in the clear.
 */
export function nodesToken(
  file: string,
  given: { readonly token: string; readonly what: string } | undefined,
  read: ReadFile = readFileSync,
): NodesToken {
  let text: string;
  try {
    text = read(file).toString('utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      `--auth-file: cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    );
  }
  let table: ReturnType<typeof parseAuthFile>;
  try {
    table = parseAuthFile(text);
  } catch (e) {
    if (e instanceof AuthFileError) throw new UsageError(`--auth-file ${file}: ${e.message}`);
    throw e;
  }
  const calls = "the nodes' own calls (a no-space alarm to the leader) and the leader shown here";
  if (given !== undefined) {
    const user = table.byToken(given.token);
    if (user === null) {
      return {
        token: given.token,
        note: `${given.what} is no user's token in ${file}: ${calls} will be refused`,
      };
    }
    const weak = user.role === 'admin' ? '' : ` (role ${user.role}, not admin: ${calls} will be refused)`;
    return {
      token: given.token,
      note: `nodes' own calls use the token of user "${user.name}" (${given.what})${weak}`,
    };
  }
  const users = (JSON.parse(text) as { users: readonly RawUser[] }).users;
  const admin = users.find((u) => u.role === 'admin' && typeof u.token === 'string');
  if (admin?.token === undefined) {
    return {
      note: `${file} has no admin whose token is in the clear, and no --token or RAFTKV_TOKEN was given: ${calls} will be refused`,
    };
  }
  return {
    token: admin.token,
    note: `nodes' own calls use the token of user "${admin.name}" (the first admin of ${file})`,
  };
}

/**
 * The token a supervisor (`raftkv cluster`, `raftkv cluster add`) uses and gives its nodes: with an
 * auth file (--auth-file or RAFTKV_AUTH_FILE), nodesToken's choice and its note; without, the one
 * given, if any, and nothing to say.
 */
export function supervisorToken(args: ParsedArgs, env: Env): { token?: string; notes: string[] } {
  const token = tokenOption(args, env);
  const authFile = stringOption(args, 'auth-file', env, 'RAFTKV_AUTH_FILE');
  if (authFile === undefined) return { ...(token !== undefined && { token }), notes: [] };
  const given = token === undefined ? undefined : { token, what: sourceOf(args, 'token', 'RAFTKV_TOKEN') };
  const chosen = nodesToken(authFile, given);
  return { ...(chosen.token !== undefined && { token: chosen.token }), notes: [chosen.note] };
}
