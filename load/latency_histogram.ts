/**
 * A latency histogram with fixed bins: 10 µs wide below 1 ms, then 1 % wide up to 60 s, with the
 * exact minimum and maximum on the side. Recording is one logarithm and one increment, and the
 * memory is fixed (about 1200 counters) however many values are recorded, so a load tester can
 * record every delivery.
 *
 * @module
 */

/** Width of the linear bins below 1 ms, in milliseconds. */
const LINEAR_WIDTH = 0.01;
/** Linear bins: [0, 0.01), [0.01, 0.02), ... [0.99, 1) ms. */
const LINEAR_BINS = 100;
/** Each logarithmic bin's upper bound is this factor times its lower bound. */
const RATIO = 1.01;
const LOG_RATIO = Math.log(RATIO);

/** The largest latency the bins resolve, in milliseconds; larger ones share the last bin. */
export const HISTOGRAM_MAX_MS = 60_000;

const LOG_BINS = Math.ceil(Math.log(HISTOGRAM_MAX_MS) / LOG_RATIO);
/** Every bin, the overflow bin (at least {@linkcode HISTOGRAM_MAX_MS}) included. */
const BINS = LINEAR_BINS + LOG_BINS + 1;
const OVERFLOW = BINS - 1;

/**
 * The edges of the buckets of {@linkcode LatencyHistogram.buckets} by default, in milliseconds:
 * 1-2-5 steps from 0.1 ms to 60 s.
 */
export const DEFAULT_BUCKET_EDGES: readonly number[] = [
  0.1,
  0.2,
  0.5,
  1,
  2,
  5,
  10,
  20,
  50,
  100,
  200,
  500,
  1000,
  2000,
  5000,
  10_000,
  HISTOGRAM_MAX_MS,
];

/** A range of latencies and how many were recorded in it. */
export interface HistogramBucket {
  /** The lower bound, in milliseconds (inclusive). */
  readonly from: number;
  /** The upper bound, in milliseconds (exclusive); `Infinity` for the last bucket. */
  readonly to: number;
  /** How many latencies fell in the range. */
  readonly count: number;
}

function binOf(ms: number): number {
  if (ms < 1) return Math.floor(ms / LINEAR_WIDTH);
  if (ms >= HISTOGRAM_MAX_MS) return OVERFLOW;
  return Math.min(OVERFLOW - 1, LINEAR_BINS + Math.floor(Math.log(ms) / LOG_RATIO));
}

function lowerBound(bin: number): number {
  if (bin < LINEAR_BINS) return bin * LINEAR_WIDTH;
  if (bin === OVERFLOW) return HISTOGRAM_MAX_MS;
  return RATIO ** (bin - LINEAR_BINS);
}

function upperBound(bin: number): number {
  if (bin < LINEAR_BINS) return (bin + 1) * LINEAR_WIDTH;
  if (bin >= OVERFLOW - 1) return bin === OVERFLOW ? Infinity : HISTOGRAM_MAX_MS;
  return RATIO ** (bin - LINEAR_BINS + 1);
}

/**
 * Latencies in fixed bins. A percentile is the upper bound of the bin where it falls (capped at
 * the exact maximum), so it is at most 10 µs or 1 % above the exact value, never below it.
 *
 * @example
 * ```ts
 * import { LatencyHistogram } from "./latency_histogram.ts";
 * import assert from "node:assert/strict";
 *
 * const histogram = new LatencyHistogram();
 * for (const ms of [0.5, 0.7, 1.2, 3, 40]) histogram.record(ms);
 * assert.equal(histogram.count, 5);
 * assert.equal(histogram.max, 40);
 * assert.ok(Math.abs(histogram.percentile(50) - 1.2) <= 0.012);
 * ```
 */
export class LatencyHistogram {
  #bins = new Float64Array(BINS);
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = 0;

  /**
   * Records one latency. A negative one (clocks of two processes a little apart) counts as 0.
   *
   * @param ms The latency, in milliseconds.
   * @throws {RangeError} When `ms` is not a number (NaN).
   */
  record(ms: number): void {
    if (!(ms >= 0)) {
      if (Number.isNaN(ms)) throw new RangeError("Cannot record a latency of NaN");
      ms = 0;
    }
    this.#bins[binOf(ms)]!++;
    this.#count++;
    this.#sum += ms;
    if (ms > this.#max) this.#max = ms;
    if (ms < this.#min) this.#min = ms;
  }

  /** How many latencies were recorded. */
  get count(): number {
    return this.#count;
  }

  /** The largest latency recorded, exactly, in milliseconds; 0 when none was. */
  get max(): number {
    return this.#max;
  }

  /** The smallest latency recorded, exactly, in milliseconds; 0 when none was. */
  get min(): number {
    return this.#count === 0 ? 0 : this.#min;
  }

  /** The mean latency, in milliseconds; 0 when none was recorded. */
  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  /**
   * The latency below which `p` percent of the recorded ones fall (nearest rank), as the upper
   * bound of its bin, capped at the exact maximum.
   *
   * @param p The percentile, 0 to 100.
   * @returns The latency in milliseconds; 0 when nothing was recorded.
   * @throws {RangeError} When `p` is outside 0..100.
   */
  percentile(p: number): number {
    if (!(p >= 0 && p <= 100)) {
      throw new RangeError(`A percentile is between 0 and 100, got ${p}`);
    }
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let bin = 0; bin < BINS; bin++) {
      seen += this.#bins[bin]!;
      if (seen >= rank) return Math.max(this.min, Math.min(upperBound(bin), this.#max));
    }
    return this.#max;
  }

  /**
   * Counts per range, for a text histogram. Each fine bin goes to the range holding its middle,
   * so where an edge is not a bin boundary (edges above 1 ms other than powers of 1.01), a
   * latency within 1 % of the edge may be counted in the range next to its own.
   *
   * @param edges Ascending upper bounds of the ranges, in milliseconds; a last range to
   *   `Infinity` follows them.
   * @returns One bucket per range, empty ones included.
   * @throws {RangeError} When the edges are not ascending positive numbers.
   */
  buckets(edges: readonly number[] = DEFAULT_BUCKET_EDGES): HistogramBucket[] {
    for (let i = 0; i < edges.length; i++) {
      const edge = edges[i]!;
      if (!(edge > 0) || (i > 0 && !(edge > edges[i - 1]!))) {
        throw new RangeError("Bucket edges are ascending positive numbers");
      }
    }
    const counts = new Array<number>(edges.length + 1).fill(0);
    let range = 0;
    for (let bin = 0; bin < BINS; bin++) {
      const middle = bin === OVERFLOW ? HISTOGRAM_MAX_MS : (lowerBound(bin) + upperBound(bin)) / 2;
      while (range < edges.length && middle >= edges[range]!) range++;
      counts[range]! += this.#bins[bin]!;
    }
    return counts.map((count, i) => ({
      from: i === 0 ? 0 : edges[i - 1]!,
      to: i < edges.length ? edges[i]! : Infinity,
      count,
    }));
  }
}
