// Reading a backup file as a stream, in chunks of any size, in constant memory: the preamble is
// checked as soon as it arrives (a file that is not a snapshot is refused at once), every byte but
// the last 48 is hashed on its way through, the body is handed to the caller as it passes, and
// finish() judges the trailer. The judgement tells apart the three ways a file goes wrong: not a
// snapshot at all, cut short, or damaged (README.md, "Reading").

import { createHash } from 'node:crypto';
import { CodecError, u32leAt } from '../codec/index.js';
import {
  BACKUP_FORMAT_VERSION,
  BACKUP_MAGIC,
  type BackupHeader,
  decodeHeader,
  END_MARKER,
  HASH_BYTES,
  MAX_HEADER_BYTES,
  PREAMBLE_BYTES,
  startsWith,
  TRAILER_BYTES,
  u64leAt,
} from './format.js';

/** The ways a backup file can be unusable, each with its own message. */
export type BackupProblem =
  | 'not_a_snapshot'
  | 'unsupported_version'
  | 'truncated'
  | 'checksum_mismatch'
  | 'malformed';

export class BackupFileError extends Error {
  override readonly name = 'BackupFileError';
  constructor(
    readonly problem: BackupProblem,
    message: string,
  ) {
    super(message);
  }
}

/** What a whole file turned out to hold. */
export interface BackupCheck {
  /** The file's size. */
  readonly bytes: number;
  /** Null when the file is too short to say. */
  readonly formatVersion: number | null;
  /** The header, when it decodes (even in a damaged file, where it may be wrong: see problem). */
  readonly header: BackupHeader | null;
  /** Size of the state machine's snapshot in the file (0 when the file does not say). */
  readonly bodyBytes: number;
  /** The SHA-256 the file's trailer records, hex; null when it has no trailer. */
  readonly sha256: string | null;
  /** Null: intact. */
  readonly problem: BackupFileError | null;
}

/** A check that found nothing wrong. */
export interface IntactBackup extends BackupCheck {
  readonly header: BackupHeader;
  readonly sha256: string;
  readonly problem: null;
}

export class BackupReader {
  private readonly hash = createHash('sha256');
  private total = 0;
  private readonly preamble = new Uint8Array(PREAMBLE_BYTES);
  private preambleFilled = 0;
  /** From the preamble; null until it is whole. */
  private headerLength: number | null = null;
  private headerBytes: Uint8Array | null = null;
  private headerFilled = 0;
  /** The last bytes seen, held back from the hash: they may be the trailer. */
  private tail = new Uint8Array(0);
  /** Bytes hashed so far (the file offset of the next one). */
  private hashed = 0;

  /**
   * `onBody` receives the body's bytes in order, with their offset in the body, as they pass —
   * before the file has been judged: use them only once finish() says it is intact. The bytes are
   * the caller's pushed ones: copy what is kept.
   */
  constructor(private readonly onBody?: (bytes: Uint8Array, offset: number) => void) {}

  /** The header's length, once the preamble has been read (null before). */
  get headerBytesLength(): number | null {
    return this.headerLength;
  }

  /** Reads the next bytes; throws BackupFileError at once if they cannot start a snapshot file. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.total += chunk.length;
    this.fillPreamble(chunk);
    if (chunk.length >= TRAILER_BYTES) {
      if (this.tail.length > 0) this.release(this.tail);
      this.release(chunk.subarray(0, chunk.length - TRAILER_BYTES));
      this.tail = chunk.slice(chunk.length - TRAILER_BYTES);
      return;
    }
    const held = new Uint8Array(this.tail.length + chunk.length);
    held.set(this.tail, 0);
    held.set(chunk, this.tail.length);
    const keep = Math.min(TRAILER_BYTES, held.length);
    if (held.length > keep) this.release(held.subarray(0, held.length - keep));
    this.tail = held.slice(held.length - keep);
  }

  /** Judges the file once all of it has been pushed. */
  finish(): BackupCheck {
    const bytes = this.total;
    const formatVersion =
      this.preambleFilled > BACKUP_MAGIC.length ? this.preamble[BACKUP_MAGIC.length]! : null;
    const unjudged = { bytes, formatVersion, header: null, bodyBytes: 0, sha256: null };
    if (bytes < PREAMBLE_BYTES + TRAILER_BYTES) {
      const why =
        bytes === 0
          ? 'the file is empty'
          : `the file is only ${bytes} bytes; the smallest snapshot file has ${PREAMBLE_BYTES + TRAILER_BYTES}`;
      return { ...unjudged, problem: new BackupFileError('truncated', `truncated: ${why}`) };
    }
    const tail = this.tail;
    const sha256 = Buffer.from(tail.subarray(TRAILER_BYTES - HASH_BYTES)).toString('hex');
    this.hash.update(tail.subarray(0, TRAILER_BYTES - HASH_BYTES));
    const computed = this.hash.digest('hex');
    const headerLength = this.headerLength ?? 0;
    const bodyBytes = Math.max(0, bytes - PREAMBLE_BYTES - headerLength - TRAILER_BYTES);
    const decoded = this.decodedHeader();
    const seen = { bytes, formatVersion, header: decoded.header, bodyBytes };
    const problem = (kind: BackupProblem, message: string): BackupCheck => ({
      ...seen,
      sha256: null,
      problem: new BackupFileError(kind, message),
    });
    if (!startsWith(tail, END_MARKER, 8)) {
      return problem(
        'truncated',
        'truncated: the file does not end with the end marker and checksum of a snapshot file (it was cut short, or its last bytes are damaged)',
      );
    }
    const recorded = u64leAt(tail, 0) + HASH_BYTES;
    if (recorded !== bytes) {
      return problem(
        'truncated',
        `truncated: the trailer says the file has ${recorded} bytes, it has ${bytes} (cut short, or damaged)`,
      );
    }
    if (computed !== sha256) {
      return {
        ...seen,
        sha256,
        problem: new BackupFileError(
          'checksum_mismatch',
          `checksum mismatch: the file's SHA-256 is ${computed}, its trailer records ${sha256}: the file is damaged`,
        ),
      };
    }
    if (PREAMBLE_BYTES + headerLength + TRAILER_BYTES > bytes) {
      return problem('malformed', `malformed: the header length (${headerLength} bytes) runs past the file`);
    }
    if (decoded.header === null) return problem('malformed', `malformed: ${decoded.why}`);
    return { ...seen, sha256, problem: null };
  }

  private fillPreamble(chunk: Uint8Array): void {
    if (this.preambleFilled === PREAMBLE_BYTES) return;
    const n = Math.min(PREAMBLE_BYTES - this.preambleFilled, chunk.length);
    this.preamble.set(chunk.subarray(0, n), this.preambleFilled);
    this.preambleFilled += n;
    const magicSeen = Math.min(this.preambleFilled, BACKUP_MAGIC.length);
    if (!startsWith(this.preamble.subarray(0, magicSeen), BACKUP_MAGIC.subarray(0, magicSeen))) {
      throw new BackupFileError(
        'not_a_snapshot',
        'not a raftkv snapshot file: it does not start with the magic bytes "RAFTKVBK"',
      );
    }
    if (this.preambleFilled > BACKUP_MAGIC.length) {
      const version = this.preamble[BACKUP_MAGIC.length]!;
      if (version !== BACKUP_FORMAT_VERSION) {
        throw new BackupFileError(
          'unsupported_version',
          `unsupported snapshot format version ${version}: this raftkv reads version ${BACKUP_FORMAT_VERSION}`,
        );
      }
    }
    if (this.preambleFilled === PREAMBLE_BYTES) {
      this.headerLength = u32leAt(this.preamble, BACKUP_MAGIC.length + 1);
      if (this.headerLength <= MAX_HEADER_BYTES) this.headerBytes = new Uint8Array(this.headerLength);
    }
  }

  /** Hashes `bytes` (the file's next ones) and hands on the header's and the body's. */
  private release(bytes: Uint8Array): void {
    this.hash.update(bytes);
    const from = this.hashed;
    this.hashed += bytes.length;
    // The preamble is whole by now (no byte is released before 48 more have arrived), so the
    // header's length is known.
    const headerStart = PREAMBLE_BYTES;
    const bodyStart = headerStart + (this.headerLength ?? 0);
    if (this.headerBytes !== null && from < bodyStart && this.hashed > headerStart) {
      const a = Math.max(from, headerStart);
      const b = Math.min(this.hashed, bodyStart);
      this.headerBytes.set(bytes.subarray(a - from, b - from), a - headerStart);
      this.headerFilled += b - a;
    }
    if (this.onBody !== undefined && this.hashed > bodyStart) {
      const a = Math.max(from, bodyStart);
      this.onBody(bytes.subarray(a - from), a - bodyStart);
    }
  }

  private decodedHeader(): { header: BackupHeader; why: null } | { header: null; why: string } {
    const fields = this.headerBytes;
    if (fields === null || this.headerFilled < fields.length) {
      return { header: null, why: `the header (${this.headerLength ?? 0} bytes) is not in the file whole` };
    }
    try {
      return { header: decodeHeader(fields), why: null };
    } catch (e) {
      if (e instanceof CodecError) return { header: null, why: e.message };
      throw e;
    }
  }
}

/** The check's findings if the file is intact; its problem (a BackupFileError) otherwise. */
export function expectIntact(check: BackupCheck): IntactBackup {
  if (check.problem !== null) throw check.problem;
  if (check.header === null || check.sha256 === null)
    throw new BackupFileError('malformed', 'malformed: the file has no readable header');
  return check as IntactBackup;
}
