// Errors the transport raises for bytes it cannot accept. They are values a peer can cause (a
// corrupt or hostile stream), so they are typed and caught at the connection boundary, which
// closes that one connection; they never reach the process as an uncontrolled crash. Malformed,
// truncated or non-canonical bytes, and protocol violations, are the codec's CodecError.

import { CodecError } from '../codec/errors.js';

/** A frame header announced more bytes than the receiver accepts; the connection must close. */
export class FrameTooLargeError extends CodecError {
  override readonly name: string = 'FrameTooLargeError';
  constructor(
    readonly size: number,
    readonly max: number,
  ) {
    super('frame', `frame of ${size} bytes exceeds the maximum of ${max} bytes`);
  }
}
