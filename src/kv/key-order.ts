// Key order: keys sort by Unicode code point, which is exactly the byte order of their UTF-8
// encoding — what etcd (byte order) and clients in Go, Rust or Python (code point order) expect,
// and what would stay unchanged if keys were ever stored as bytes.
//
// JavaScript's `<` compares UTF-16 code units instead. The two orders differ only when the first
// differing units are a surrogate (part of a character ≥ U+10000) and a unit in U+E000–U+FFFF:
// UTF-16 puts the surrogate first, code point order puts it last. A comparator that fixes this up
// costs ~40% on every tree operation, so instead keys are stored under a "tree key" in which each
// unit ≥ U+D800 is permuted (surrogates moved above U+E000–U+FFFF). Then plain `<` on tree keys
// is code point order on keys. Keys with no unit ≥ U+D800 (nearly all of them) are their own
// tree key: one regex test, no allocation.

const HIGH_UNIT = /[\uD800-\uFFFF]/;

function mapUnits(s: string, f: (unit: number) => number): string {
  let out = '';
  let runStart = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800) continue;
    out += s.slice(runStart, i) + String.fromCharCode(f(c));
    runStart = i + 1;
  }
  return out + s.slice(runStart);
}

// D800–DFFF → F800–FFFF, E000–FFFF → D800–F7FF: a bijection on units ≥ U+D800.
const forward = (c: number): number => (c < 0xe000 ? c + 0x2000 : c - 0x800);
const backward = (c: number): number => (c < 0xf800 ? c + 0x800 : c - 0x2000);

/** The string stored in the tree for `key`; `<` on tree keys is code point order on keys. */
export function toTreeKey(key: string): string {
  return HIGH_UNIT.test(key) ? mapUnits(key, forward) : key;
}

/** Inverse of toTreeKey. */
export function fromTreeKey(treeKey: string): string {
  return HIGH_UNIT.test(treeKey) ? mapUnits(treeKey, backward) : treeKey;
}

/** The tree's comparator: plain UTF-16 unit order, applied to tree keys. */
export function compareTreeKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Code point (= UTF-8 byte) order on keys, for callers outside the tree. */
export function compareKeys(a: string, b: string): number {
  return compareTreeKeys(toTreeKey(a), toTreeKey(b));
}
