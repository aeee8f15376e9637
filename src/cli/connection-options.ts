// Who a command is to the nodes it talks to, and whom it trusts: the bearer token and the TLS
// files, the same flags (and environment variables) on every command that sends a node a request.
// The files are read once, when the command line is parsed: a file that is missing, unreadable or
// not what it should be is a usage error naming it, before any node is asked anything.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type ClientOptions, type ClientTls, checkClientTls, TlsOptionsError } from '../client/index.js';
import { type Env, type FlagDef, type ParsedArgs, sourceOf, stringOption, UsageError } from './args.js';

export const tokenFlag: FlagDef = {
  name: 'token',
  value: 'TOKEN',
  env: 'RAFTKV_TOKEN',
  help: "bearer token of a user in the nodes' auth file (docs/security.md); prefer the env var: flags show in ps",
};

export const tlsFlags: readonly FlagDef[] = [
  {
    name: 'cacert',
    value: 'FILE',
    env: 'RAFTKV_CACERT',
    default: "the system's CAs",
    help: "for https:// endpoints: the CA certificate (PEM) that signs the nodes' certificates",
  },
  {
    name: 'cert',
    value: 'FILE',
    env: 'RAFTKV_CERT',
    help: 'for https:// endpoints: a client certificate (PEM) to present, with --key',
  },
  {
    name: 'key',
    value: 'FILE',
    env: 'RAFTKV_KEY',
    help: "the client certificate's private key (PEM, unencrypted), with --cert",
  },
];

/** --token, --cacert, --cert, --key: on every command that talks to a node. */
export const connectionFlags: readonly FlagDef[] = [tokenFlag, ...tlsFlags];

/**
 * `raftkv start`'s: the same flags, for the node's own calls to other nodes (--join's reads, its
 * no-space alarm sent to the leader). Apart from the TLS flags of the node's own server.
 */
export const nodeCredentialFlags: readonly FlagDef[] = [
  {
    ...tokenFlag,
    help: "an admin's token of the auth file, sent on the node's own calls to other nodes (--join's; its no-space alarm to the leader); prefer the env var",
  },
  {
    ...tlsFlags[0]!,
    help: "for the node's own calls over https: the CA certificate (PEM) that signs the other nodes' certificates",
  },
  { ...tlsFlags[1]!, help: 'a client certificate (PEM) the node presents on its own calls, with --key' },
  tlsFlags[2]!,
];

/** What a command presents to the nodes and trusts of them. */
export interface Credentials {
  /** Sent as `Authorization: Bearer TOKEN`. */
  readonly token?: string;
  /** For https:// endpoints (ignored for http://). */
  readonly tls?: ClientTls;
}

/** Reads a file whole; the CLI's is readFileSync, tests give their own. */
export type ReadFile = (file: string) => Buffer;

const tlsFiles = { cacert: 'RAFTKV_CACERT', cert: 'RAFTKV_CERT', key: 'RAFTKV_KEY' } as const;
type TlsFlag = keyof typeof tlsFiles;

/** The token from --token or RAFTKV_TOKEN, checked: what an HTTP header can carry. */
export function tokenOption(args: ParsedArgs, env: Env): string | undefined {
  const token = stringOption(args, 'token', env, 'RAFTKV_TOKEN');
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) {
    throw new UsageError(`${sourceOf(args, 'token', 'RAFTKV_TOKEN')} must be printable ASCII without spaces`);
  }
  return token;
}

/** A TLS file as given, and where it is (absolute: a node started from here reads it too). */
interface GivenFile {
  /** `--cacert` or `RAFTKV_CACERT`: where it came from, for messages. */
  readonly what: string;
  readonly given: string;
  readonly path: string;
}

/** The TLS files given (flags winning over the environment). */
function tlsFileOptions(args: ParsedArgs, env: Env): Partial<Record<TlsFlag, GivenFile>> {
  const files: Partial<Record<TlsFlag, GivenFile>> = {};
  for (const [flag, envName] of Object.entries(tlsFiles) as [TlsFlag, string][]) {
    const given = stringOption(args, flag, env, envName);
    if (given !== undefined)
      files[flag] = { what: sourceOf(args, flag, envName), given, path: path.resolve(given) };
  }
  return files;
}

function readPem(file: GivenFile, read: ReadFile): Buffer {
  try {
    return read(file.path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a directory'
            : (e as Error).message;
    throw new UsageError(`${file.what}: cannot read ${file.given}: ${why}`);
  }
}

/**
 * --token and the TLS files (or RAFTKV_TOKEN, RAFTKV_CACERT, RAFTKV_CERT, RAFTKV_KEY), the files
 * read now and checked. Throws UsageError naming the flag (or variable) and file at fault.
 */
export function parseCredentials(args: ParsedArgs, env: Env, read: ReadFile = readFileSync): Credentials {
  const token = tokenOption(args, env);
  const { cacert, cert, key } = tlsFileOptions(args, env);
  if (cert !== undefined && key === undefined) {
    throw new UsageError(`${cert.what} needs --key (or RAFTKV_KEY): the client certificate's private key`);
  }
  if (key !== undefined && cert === undefined) {
    throw new UsageError(`${key.what} needs --cert (or RAFTKV_CERT): the client certificate it goes with`);
  }
  let tls: ClientTls | undefined;
  if (cacert !== undefined || cert !== undefined) {
    tls = {
      ...(cacert !== undefined && { ca: readPem(cacert, read) }),
      ...(cert !== undefined && { cert: readPem(cert, read) }),
      ...(key !== undefined && { key: readPem(key, read) }),
    };
    try {
      checkClientTls(tls);
    } catch (e) {
      if (!(e instanceof TlsOptionsError)) throw e;
      const file = e.field === 'ca' ? cacert : e.field === 'cert' ? cert : key;
      // The message starts with the option's own name ("ca: ..."): the flag and file replace it.
      const why = e.message.replace(/^(ca|cert|key): /, '');
      throw new UsageError(file === undefined ? why : `${file.what} ${file.given}: ${why}`);
    }
  }
  return { ...(token !== undefined && { token }), ...(tls !== undefined && { tls }) };
}

/** The client's options for these credentials. */
export function clientOptionsOf(c: Credentials): Pick<ClientOptions, 'token' | 'tls'> {
  return { ...(c.token !== undefined && { token: c.token }), ...(c.tls !== undefined && { tls: c.tls }) };
}

/**
 * The credentials given as flags, as the environment variables of a node this command starts (so
 * the token does not show in the node's command line); those given by environment are inherited.
 */
export function credentialEnv(args: ParsedArgs, env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  const token = tokenOption(args, env);
  if (token !== undefined) out.RAFTKV_TOKEN = token;
  const files = tlsFileOptions(args, env);
  for (const [flag, envName] of Object.entries(tlsFiles) as [TlsFlag, string][]) {
    const file = files[flag];
    if (file !== undefined) out[envName] = file.path;
  }
  return out;
}
