import assert from "node:assert/strict";
import { Backoff, resolveBackoffOptions } from "../session/backoff.ts";
import { mulberry32 } from "./prng.ts";

Deno.test("Backoff doubles from the first delay up to the cap, without randomization", () => {
  const backoff = new Backoff({ firstDelay: 100, maxDelay: 1000, factor: 2, randomization: 0 });
  const delays = Array.from({ length: 6 }, () => backoff.next());
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
  assert.equal(backoff.attempts, 6);
  backoff.reset();
  assert.equal(backoff.next(), 100);
});

Deno.test("Backoff's jitter stays within the randomization band and under the cap (seeded)", () => {
  const backoff = new Backoff(
    { firstDelay: 1000, maxDelay: 5000, factor: 2, randomization: 0.5 },
    mulberry32(42),
  );
  const seen = new Set<number>();
  for (let round = 0; round < 200; round++) {
    backoff.reset();
    for (let attempt = 0; attempt < 5; attempt++) {
      const base = Math.min(5000, 1000 * 2 ** attempt);
      const delay = backoff.next()!;
      assert.ok(delay >= base * 0.5 && delay <= Math.min(5000, base * 1.5), `${delay} for ${base}`);
      seen.add(delay);
    }
  }
  assert.ok(seen.size > 100, "the delays vary");
});

Deno.test("Backoff gives up after maxAttempts, and never with the default", () => {
  const limited = new Backoff({ maxAttempts: 2, randomization: 0 });
  assert.equal(limited.next(), 500);
  assert.equal(limited.next(), 1000);
  assert.equal(limited.exhausted, true);
  assert.equal(limited.next(), undefined);
  const unlimited = new Backoff();
  for (let i = 0; i < 1000; i++) assert.notEqual(unlimited.next(), undefined);
  assert.ok(unlimited.next()! <= 15_000);
});

Deno.test("Backoff options out of range are refused with a RangeError", () => {
  for (
    const options of [
      { firstDelay: -1 },
      { maxDelay: 1.5 },
      { factor: 0.5 },
      { factor: Infinity },
      { randomization: 2 },
      { maxAttempts: 0 },
    ]
  ) {
    assert.throws(() => resolveBackoffOptions(options), RangeError, JSON.stringify(options));
  }
  assert.equal(resolveBackoffOptions({ maxAttempts: Infinity }).maxAttempts, Infinity);
});
