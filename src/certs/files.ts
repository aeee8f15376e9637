// Writing a set of PEM files all or nothing as far as the caller's choice goes: every target is
// checked before the first is written, so a refusal to overwrite leaves the directory as it was.
// Private keys are created 0600 (a key written over is removed first, so it never keeps an older,
// wider mode); certificates 0644.

import { constants } from 'node:fs';
import { access, mkdir, open, readFile, rm } from 'node:fs/promises';
import { CertsError } from './x509.js';

export interface PemFile {
  readonly path: string;
  readonly text: string;
  /** A private key: readable by the owner only. */
  readonly secret: boolean;
}

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/** Creates `dir` (0700: it holds keys) unless it is there. */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new CertsError(`cannot create ${dir}: ${reason(e)}`);
  }
}

/** Writes every file; without `force`, refuses (writing none) when any of them exists. */
export async function writePemFiles(files: readonly PemFile[], force: boolean): Promise<void> {
  if (!force) {
    const taken: string[] = [];
    for (const f of files) if (await exists(f.path)) taken.push(f.path);
    if (taken.length > 0) {
      throw new CertsError(
        `${taken.join(', ')} already exist${taken.length === 1 ? 's' : ''}: not overwriting (--force overwrites)`,
      );
    }
  }
  for (const f of files) {
    try {
      if (force) await rm(f.path, { force: true });
      const handle = await open(f.path, 'wx', f.secret ? 0o600 : 0o644);
      try {
        await handle.writeFile(f.text);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (e) {
      throw new CertsError(`cannot write ${f.path}: ${reason(e)}`);
    }
  }
}

export async function readPem(p: string, what: string): Promise<string> {
  try {
    return await readFile(p, 'utf8');
  } catch (e) {
    throw new CertsError(`cannot read ${what} ${p}: ${reason(e)}`);
  }
}
