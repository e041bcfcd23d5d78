/**
 * LatencyHistogram: percentiles within one bin (10 µs or 1 %) above the exact nearest-rank value
 * of a sorted array, the exact maximum, the buckets of the text histogram, and its bounds.
 */

import assert from "node:assert/strict";
import { HISTOGRAM_MAX_MS, LatencyHistogram } from "../load/latency_histogram.ts";
import { formatHistogram } from "../load/load_report.ts";
import { mulberry32 } from "./prng.ts";

/** The nearest-rank percentile of sorted values: the smallest with at least p % at or below it. */
function exactPercentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const PERCENTILES = [0, 1, 10, 25, 50, 75, 90, 99, 99.9, 100];

function assertWithinOneBin(estimate: number, exact: number, what: string): void {
  assert.ok(estimate >= exact - 1e-9, `${what}: ${estimate} is below the exact ${exact}`);
  const bound = Math.max(exact * 1.01, exact + 0.01) + 1e-9;
  assert.ok(estimate <= bound, `${what}: ${estimate} is more than one bin above ${exact}`);
}

Deno.test("LatencyHistogram percentiles are within one bin above those of the sorted values", () => {
  const random = mulberry32(20240611);
  // Log-uniform from 10 µs to 10 s: every kind of bin, linear and logarithmic.
  const values = Array.from({ length: 50_000 }, () => 10 ** (-2 + 6 * random()));
  const histogram = new LatencyHistogram();
  for (const value of values) histogram.record(value);
  const sorted = values.toSorted((a, b) => a - b);
  for (const p of PERCENTILES) {
    assertWithinOneBin(histogram.percentile(p), exactPercentile(sorted, p), `p${p}`);
  }
  assert.equal(histogram.count, values.length);
  assert.equal(histogram.max, sorted.at(-1));
  assert.equal(histogram.min, sorted[0]);
  assert.equal(histogram.percentile(100), sorted.at(-1));
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  assert.ok(Math.abs(histogram.mean - mean) < 1e-6 * mean);
});

Deno.test("LatencyHistogram percentiles of a narrow sub-millisecond spread stay within 10 µs", () => {
  const random = mulberry32(7);
  const values = Array.from({ length: 10_001 }, () => 0.2 + 0.3 * random());
  const histogram = new LatencyHistogram();
  for (const value of values) histogram.record(value);
  const sorted = values.toSorted((a, b) => a - b);
  for (const p of PERCENTILES) {
    const exact = exactPercentile(sorted, p);
    const estimate = histogram.percentile(p);
    assert.ok(estimate >= exact - 1e-9 && estimate <= exact + 0.01 + 1e-9, `p${p}: ${estimate}`);
  }
});

Deno.test("LatencyHistogram keeps the exact maximum beyond its last bin", () => {
  const histogram = new LatencyHistogram();
  histogram.record(1);
  histogram.record(HISTOGRAM_MAX_MS * 2.5);
  assert.equal(histogram.max, 150_000);
  assert.equal(histogram.percentile(100), 150_000);
  assert.equal(histogram.percentile(50), 1.01);
  assert.equal(histogram.buckets().at(-1)!.count, 1);
  assert.equal(histogram.buckets().at(-1)!.to, Infinity);
});

Deno.test("LatencyHistogram reports zeros when nothing was recorded", () => {
  const histogram = new LatencyHistogram();
  assert.equal(histogram.count, 0);
  assert.equal(histogram.percentile(50), 0);
  assert.equal(histogram.max, 0);
  assert.equal(histogram.min, 0);
  assert.equal(histogram.mean, 0);
  assert.deepEqual(formatHistogram(histogram), ["no latencies recorded"]);
});

Deno.test("LatencyHistogram counts a negative latency as 0 and refuses NaN", () => {
  const histogram = new LatencyHistogram();
  histogram.record(-0.5);
  assert.equal(histogram.count, 1);
  assert.equal(histogram.max, 0);
  assert.equal(histogram.percentile(50), 0);
  assert.throws(() => histogram.record(NaN), RangeError);
  assert.equal(histogram.count, 1);
});

Deno.test("LatencyHistogram refuses a percentile outside 0..100", () => {
  const histogram = new LatencyHistogram();
  histogram.record(1);
  assert.throws(() => histogram.percentile(-1), RangeError);
  assert.throws(() => histogram.percentile(100.5), RangeError);
  assert.throws(() => histogram.percentile(NaN), RangeError);
});

Deno.test("LatencyHistogram buckets put each latency in its range and sum to the count", () => {
  const histogram = new LatencyHistogram();
  const values = [0.05, 0.15, 0.15, 0.3, 0.7, 1.5, 3, 7, 15, 35, 70, 150, 3000, 30_000, 90_000];
  for (const value of values) histogram.record(value);
  const buckets = histogram.buckets();
  assert.equal(buckets.reduce((sum, bucket) => sum + bucket.count, 0), values.length);
  for (const value of values) {
    const bucket = buckets.find(({ from, to }) => value >= from && value < to);
    assert.ok(bucket !== undefined && bucket.count >= 1, `no bucket counts ${value}`);
  }
  assert.deepEqual(
    buckets.slice(0, 3).map(({ from, to, count }) => [from, to, count]),
    [[0, 0.1, 1], [0.1, 0.2, 2], [0.2, 0.5, 1]],
  );
  assert.deepEqual(
    histogram.buckets([1, 10]).map(({ count }) => count),
    [5, 3, 7],
  );
  assert.throws(() => histogram.buckets([2, 1]), RangeError);
  assert.throws(() => histogram.buckets([0, 1]), RangeError);
});

Deno.test("formatHistogram draws the ranges from the first non-empty one to the last", () => {
  const histogram = new LatencyHistogram();
  for (const value of [0.3, 0.3, 0.3, 0.3, 3, 3]) histogram.record(value);
  const lines = formatHistogram(histogram, { width: 8 });
  assert.deepEqual(lines, [
    "0.2 – 0.5 ms  4   66.7 %  ########",
    "  0.5 – 1 ms  0    0.0 %",
    "    1 – 2 ms  0    0.0 %",
    "    2 – 5 ms  2   33.3 %  ####",
  ]);
});
