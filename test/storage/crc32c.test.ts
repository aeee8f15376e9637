// Goal: the checksum is CRC32C (Castagnoli) exactly — the published test vectors (RFC 3720
// appendix B.4 and the usual "123456789" check value) — and can be computed incrementally.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { crc32c } from '../../src/storage/index.js';

test('matches the standard check value', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

test('matches the RFC 3720 (iSCSI) vectors', () => {
  const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
  const descending = Uint8Array.from({ length: 32 }, (_, i) => 31 - i);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(ascending), 0x46dd794e);
  assert.equal(crc32c(descending), 0x113fdb5c);
});

test('is unsigned and continues across chunks', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (data, cut) => {
      const at = Math.min(cut, data.length);
      const whole = crc32c(data);
      assert.ok(whole >= 0 && whole <= 0xffffffff);
      assert.equal(crc32c(data.subarray(at), crc32c(data.subarray(0, at))), whole);
    }),
  );
});
