// How the state machine measures its own size for the quota (docs/space.md). Deterministic: a
// function of the strings alone, so every replica counts the same bytes.

/** Per-pair cost beyond its strings: the B+ tree slot and the string headers, roughly. */
const PAIR_OVERHEAD_BYTES = 48;

/**
 * What a key and its value count toward the state size: 2 bytes per UTF-16 code unit (the most a
 * JS string holds per unit) plus a fixed overhead. The store itself takes less (about 0.6 of it
 * for ASCII, which V8 keeps at one byte per unit); a running node holds 2–2.7 times it in all,
 * with the log kept for followers and the latest snapshot (docs/space.md).
 */
export function pairCharge(key: string, value: string): number {
  return PAIR_OVERHEAD_BYTES + 2 * (key.length + value.length);
}
