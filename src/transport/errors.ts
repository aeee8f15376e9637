// Errors the transport raises for bytes it cannot accept. They are values a peer can cause (a
// corrupt or hostile stream), so they are typed and caught at the connection boundary, which
// closes that one connection; they never reach the process as an uncontrolled crash.

/** Malformed, truncated or non-canonical input; or a message that cannot be put on the wire. */
export class CodecError extends Error {
  override readonly name: string = 'CodecError';
}

/** A frame header announced more bytes than the receiver accepts; the connection must close. */
export class FrameTooLargeError extends CodecError {
  override readonly name: string = 'FrameTooLargeError';
  constructor(
    readonly size: number,
    readonly max: number,
  ) {
    super(`frame of ${size} bytes exceeds the maximum of ${max} bytes`);
  }
}
