// Goal: every Raft message survives encode → decode unchanged (property-tested per message type),
// numbers stay exact up to Number.MAX_SAFE_INTEGER, the encoding is compact, and every kind of
// malformed input is refused with a CodecError that says what is wrong.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CodecError } from '../../src/codec/index.js';
import { initialMembership } from '../../src/raft/index.js';
import type {
  AppendEntries,
  Heartbeat,
  InstallSnapshot,
  Message,
  MessageType,
} from '../../src/raft/types.js';
import { decodeMessage, encodeMessage, MESSAGE_TAGS, measureMessage } from '../../src/transport/codec.js';
import { messageArbitraries } from './message-arbitraries.js';

const hb: Heartbeat = { type: 'Heartbeat', from: 'n1', to: 'n2', term: 3, leaderCommit: 7, readRound: 9 };

function throwsCodecError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof CodecError && pattern.test(err.message));
}

describe('codec round-trips', () => {
  for (const type of Object.keys(messageArbitraries) as MessageType[]) {
    it(`decode(encode(m)) equals m for random ${type} messages`, () => {
      fc.assert(
        fc.property(messageArbitraries[type] as fc.Arbitrary<Message>, (m) => {
          const bytes = encodeMessage(m);
          assert.equal(bytes.length, measureMessage(m));
          assert.equal(bytes[0], MESSAGE_TAGS[type]);
          assert.deepStrictEqual(decodeMessage(bytes), m);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('keeps indexes and terms exact up to Number.MAX_SAFE_INTEGER', () => {
    for (const n of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 52 + 1, Number.MAX_SAFE_INTEGER]) {
      const m: Heartbeat = { ...hb, term: n, leaderCommit: n, readRound: n };
      assert.deepStrictEqual(decodeMessage(encodeMessage(m)), m);
    }
  });

  it('is compact: a heartbeat with small numbers takes 10 bytes', () => {
    // tag 1, "n1" 3, "n2" 3, term 1, commit 1, readRound 1.
    assert.equal(encodeMessage(hb).length, 10);
  });

  it('decodes entry data as views into the input, without copying', () => {
    const m: AppendEntries = {
      type: 'AppendEntries',
      from: 'n1',
      to: 'n2',
      term: 2,
      prevLogIndex: 4,
      prevLogTerm: 1,
      leaderCommit: 4,
      entries: [{ term: 2, index: 5, type: 'command', data: new Uint8Array([1, 2, 3]) }],
    };
    const bytes = encodeMessage(m);
    const decoded = decodeMessage(bytes);
    assert.equal(decoded.type, 'AppendEntries');
    const data = (decoded as AppendEntries).entries[0]!.data;
    assert.equal(data.buffer, bytes.buffer);
    assert.equal(Object.getPrototypeOf(data), Uint8Array.prototype);
  });
});

describe('codec refuses what it cannot encode', () => {
  it('rejects numbers that are negative, fractional, unsafe or not numbers', () => {
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY]) {
      throwsCodecError(() => encodeMessage({ ...hb, leaderCommit: bad }), /cannot encode leaderCommit/);
    }
  });

  it('rejects strings with a lone surrogate, which UTF-8 cannot carry', () => {
    throwsCodecError(() => encodeMessage({ ...hb, from: 'n\uD800' }), /lone surrogate/);
  });

  it('rejects an unknown entry type', () => {
    const m = {
      type: 'AppendEntries',
      from: 'n1',
      to: 'n2',
      term: 1,
      prevLogIndex: 0,
      prevLogTerm: 0,
      leaderCommit: 0,
      entries: [{ term: 1, index: 1, type: 'future', data: new Uint8Array(0) }],
    } as unknown as Message;
    throwsCodecError(() => encodeMessage(m), /entry type future/);
  });

  it('rejects a snapshot whose data is in a file: it can only be streamed', () => {
    const m: InstallSnapshot = {
      type: 'InstallSnapshot',
      from: 'n1',
      to: 'n2',
      term: 1,
      snapshot: {
        meta: { index: 5, term: 1, membership: initialMembership(['n1', 'n2']) },
        data: { stored: true, byteLength: 100 },
      },
    };
    throwsCodecError(() => measureMessage(m), /snapshot 5 is in a file/);
    throwsCodecError(() => encodeMessage(m), /snapshot 5 is in a file/);
  });
});

describe('codec refuses malformed input', () => {
  it('rejects every truncation of a valid encoding', () => {
    fc.assert(
      fc.property(messageArbitraries.AppendEntries, (m) => {
        const bytes = encodeMessage(m);
        for (let len = 0; len < bytes.length; len++) {
          assert.throws(() => decodeMessage(bytes.subarray(0, len)), CodecError);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('rejects trailing bytes', () => {
    const bytes = encodeMessage(hb);
    throwsCodecError(() => decodeMessage(Buffer.concat([bytes, Buffer.from([0])])), /1 trailing byte/);
  });

  it('rejects an unknown tag and empty input', () => {
    throwsCodecError(() => decodeMessage(Buffer.from([0])), /unknown message tag 0/);
    throwsCodecError(() => decodeMessage(Buffer.from([200, 0, 0, 0])), /unknown message tag 200/);
    throwsCodecError(() => decodeMessage(new Uint8Array(0)), /truncated: tag/);
  });

  it('rejects varints that are too long, too large or not in their shortest form', () => {
    const prefix = [MESSAGE_TAGS.HeartbeatResponse, 0, 0];
    const tail = [0];
    throwsCodecError(
      () =>
        decodeMessage(Buffer.from([...prefix, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 1, ...tail])),
      /term varint is longer than 8 bytes/,
    );
    // 2^53 = 0x20000000000000 needs bit 53, encoded in the eighth byte.
    throwsCodecError(
      () => decodeMessage(Buffer.from([...prefix, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, ...tail])),
      /term exceeds Number.MAX_SAFE_INTEGER/,
    );
    throwsCodecError(
      () => decodeMessage(Buffer.from([...prefix, 0x81, 0x00, ...tail])),
      /not in its shortest form/,
    );
  });

  it('rejects booleans other than 0 and 1', () => {
    const bytes = Buffer.from(
      encodeMessage({ type: 'PreVoteResponse', from: 'a', to: 'b', term: 1, granted: true }),
    );
    bytes[bytes.length - 1] = 2;
    throwsCodecError(() => decodeMessage(bytes), /granted must be 0 or 1/);
  });

  it('rejects invalid UTF-8 in strings', () => {
    const bytes = Buffer.from(encodeMessage({ ...hb, from: 'né' }));
    // "né" is 6e c3 a9; c3 followed by 0x28 is not a valid sequence.
    bytes[3] = 0x28;
    throwsCodecError(() => decodeMessage(bytes), /from is not valid UTF-8/);
  });

  it('rejects an entry count larger than the bytes that follow could hold, before allocating', () => {
    const bytes = Buffer.from([MESSAGE_TAGS.AppendEntries, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    throwsCodecError(() => decodeMessage(bytes), /entry count is 4294967295 but only 0 byte/);
  });
});
