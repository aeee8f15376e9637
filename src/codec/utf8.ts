// Strings are UTF-8, prefixed by their byte length. The policy, the same for every format:
//  - writing a string with a lone UTF-16 surrogate is an error (UTF-8 cannot carry it; a silent
//    U+FFFD would make two different strings encode alike);
//  - reading is fatal on malformed UTF-8 (never U+FFFD) and keeps a leading U+FEFF (ignoreBOM):
//    it is a character of the string, not a byte-order mark to strip.
// So a string read back is the string written, and every accepted byte string re-encodes to itself.

import { CodecError } from './errors.js';
import { varuintSize } from './varuint.js';

export const utf8Encoder = new TextEncoder();
export const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// In a /u regex a surrogate pair is one code point, so \p{Cs} matches lone surrogates only.
const LONE_SURROGATE = /\p{Cs}/u;

/** True if `s` is well-formed UTF-16, i.e. has an exact UTF-8 encoding. */
export function isWellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/** UTF-8 byte length of `s`, or -1 if it has a lone surrogate. */
export function utf8Length(s: string): number {
  let bytes = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0xd800 || c > 0xdfff) {
      bytes += c < 0x800 ? 1 : 2;
      continue;
    }
    // A surrogate: a high one followed by a low one is a 4-byte character in two units.
    const next = s.charCodeAt(i + 1);
    if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return -1;
    bytes += 2;
    i++;
  }
  return bytes;
}

/** Bytes a length-prefixed string takes, after checking it has an encoding; `field` names it. */
export function stringSize(s: string, field: string): number {
  const n = utf8Length(s);
  if (n < 0) throw new CodecError('value', `cannot encode ${field}: string has a lone surrogate`);
  return varuintSize(n) + n;
}
