// How the state machine measures its own size for the quota (docs/space.md). Deterministic: a
// function of the strings alone, so every replica counts the same bytes.

/** Per-pair cost beyond its strings: the B+ tree slot and the string headers, roughly. */
const PAIR_OVERHEAD_BYTES = 48;

/**
 * What a key and its value count toward the state size: 2 bytes per UTF-16 code unit (the most a
 * JS string holds per unit) plus a fixed overhead. About half of what the process really holds
 * per pair (docs/space.md).
 */
export function pairCharge(key: string, value: string): number {
  return PAIR_OVERHEAD_BYTES + 2 * (key.length + value.length);
}
