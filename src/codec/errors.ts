// The one error every byte format here raises: for bytes that do not decode under the codec's
// rules (truncated, malformed, non-canonical, trailing), and for values that have no encoding.

export class CodecError extends Error {
  override readonly name: string = 'CodecError';
  constructor(
    /** What was being read or written: 'message', 'frame', 'WAL record', 'command', 'snapshot'… */
    readonly what: string,
    readonly reason: string,
    /** Byte offset in the input (or output) where it went wrong; null when no byte is to blame. */
    readonly offset: number | null = null,
  ) {
    super(offset === null ? `${what}: ${reason}` : `${what}: ${reason} (at byte ${offset})`);
  }
}
