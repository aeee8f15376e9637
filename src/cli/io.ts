// Where commands write, so tests can capture output; and the process-facing pieces they share.

export interface Io {
  /** Results (values, tables). */
  out(text: string): void;
  /** Errors, progress and forwarded logs. */
  err(text: string): void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Exit once stdout and stderr have flushed (a pipe may be asynchronous on some platforms). */
export async function exitAfterFlush(code: number): Promise<never> {
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
  process.exit(code);
}

/** The message of anything thrown, with a Node error code when there is one. */
export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code !== undefined && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
  }
  return String(e);
}

/** `s` as one shell word, for the commands printed for the user to run. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=,@-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}
