// Latency histogram with bounded relative error: values (microseconds) fall into log-linear
// buckets — 64 linear sub-buckets per power of two — so any percentile is within 1.6 % of the
// truth, in constant memory, whatever the run's length.

const subBucketBits = 7;
const subBuckets = 1 << subBucketBits;

export class Histogram {
  private readonly counts = new Map<number, number>();
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;
  private sum = 0;

  record(valueUs: number): void {
    const v = Math.max(0, Math.round(valueUs));
    const b = bucketOf(v);
    this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  merge(other: Histogram): void {
    for (const [b, c] of other.counts) this.counts.set(b, (this.counts.get(b) ?? 0) + c);
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** The value at quantile q in [0, 1] (upper edge of its bucket, capped at the maximum seen). */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    const keys = [...this.counts.keys()].sort((a, b) => a - b);
    let seen = 0;
    for (const k of keys) {
      seen += this.counts.get(k)!;
      if (seen >= rank) return Math.min(upperEdge(k), this.max);
    }
    return this.max;
  }

  /** Non-empty buckets as [upper edge, count], for printing a histogram. */
  buckets(): [number, number][] {
    return [...this.counts.entries()].sort((a, b) => a[0] - b[0]).map(([k, c]) => [upperEdge(k), c]);
  }
}

function bucketOf(v: number): number {
  if (v < subBuckets) return v;
  const exp = Math.floor(Math.log2(v)) - subBucketBits + 1;
  const sub = Math.floor(v / 2 ** exp);
  return exp * subBuckets + sub;
}

function upperEdge(bucket: number): number {
  if (bucket < subBuckets) return bucket;
  const exp = Math.floor(bucket / subBuckets);
  const sub = bucket % subBuckets;
  return (sub + 1) * 2 ** exp - 1;
}
