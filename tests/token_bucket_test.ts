import assert from "node:assert/strict";
import { TokenBucket } from "../session/token_bucket.ts";
import { Random } from "./prng.ts";

Deno.test("A token bucket allows its burst at once, then its rate", () => {
  let now = 0;
  const bucket = new TokenBucket({ rate: 10, burst: 5 }, () => now);
  for (let i = 0; i < 5; i++) assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
  now = 100; // a tenth of a second: one token
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
  now = 10_000; // a long quiet spell refills up to the burst, no more
  assert.equal(bucket.tokens, 5);
  assert.equal(bucket.take(6), false, "more than the burst never fits");
  assert.equal(bucket.take(5), true);
});

Deno.test("Over a seeded random run, a token bucket never lets through more than burst + rate × time", () => {
  const random = new Random(11);
  let now = 0;
  const bucket = new TokenBucket({ rate: 1000, burst: 200 }, () => now);
  let taken = 0;
  for (let step = 0; step < 50_000; step++) {
    now += random.next() * 2;
    const cost = 1 + Math.floor(random.next() * 10);
    if (bucket.take(cost)) taken += cost;
    assert.ok(taken <= 200 + now, `${taken} taken by ${now} ms`);
  }
  assert.ok(taken > now * 0.9, "and it lets the rate through");
});

Deno.test("A token bucket refuses a rate or burst that is not a positive number", () => {
  for (const limit of [{ rate: 0, burst: 1 }, { rate: 1, burst: -1 }, { rate: NaN, burst: 1 }]) {
    assert.throws(() => new TokenBucket(limit), RangeError);
  }
});
