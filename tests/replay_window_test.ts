import assert from "node:assert/strict";
import { DEFAULT_REPLAY_WINDOW, MAX_SEQUENCE, ReplayWindow } from "../transport/replay_window.ts";
import { Random } from "./prng.ts";

Deno.test("ReplayWindow accepts each sequence number once, in order or not", () => {
  const window = new ReplayWindow(64);
  for (const n of [0, 1, 2, 5, 4, 3]) assert.equal(window.check(n), "accepted", `${n}`);
  for (const n of [0, 1, 2, 3, 4, 5]) assert.equal(window.check(n), "replayed", `${n}`);
  assert.equal(window.highest, 5);
});

Deno.test("ReplayWindow refuses numbers further behind the highest than its size", () => {
  const window = new ReplayWindow(64);
  assert.equal(window.check(100), "accepted");
  assert.equal(window.check(37), "accepted"); // 63 behind: the window's last slot
  assert.equal(window.check(36), "too_old"); // 64 behind
  assert.equal(window.check(0), "too_old");
  assert.equal(window.check(37), "replayed");
});

Deno.test("ReplayWindow forgets the slots it moves past, so a jump reuses them cleanly", () => {
  const window = new ReplayWindow(32);
  for (let n = 0; n < 32; n++) assert.equal(window.check(n), "accepted");
  // 40 reuses the slots of 8..; 33..39 were never seen and are accepted late.
  assert.equal(window.check(40), "accepted");
  for (let n = 33; n < 40; n++) assert.equal(window.check(n), "accepted", `${n}`);
  assert.equal(window.check(32), "accepted");
  assert.equal(window.check(8), "too_old");
  // A jump beyond the whole window starts afresh.
  assert.equal(window.check(10_000), "accepted");
  assert.equal(window.check(9_999), "accepted");
  assert.equal(window.check(10_000), "replayed");
});

Deno.test("ReplayWindow checks its size and the sequence numbers", () => {
  for (const size of [0, 31, 33, 65568, 1.5]) {
    assert.throws(() => new ReplayWindow(size), RangeError, `${size}`);
  }
  assert.equal(new ReplayWindow().size, DEFAULT_REPLAY_WINDOW);
  const window = new ReplayWindow();
  for (const n of [-1, 1.5, MAX_SEQUENCE + 1, Number.NaN]) {
    assert.throws(() => window.check(n), RangeError, `${n}`);
  }
  assert.equal(window.check(MAX_SEQUENCE), "accepted");
});

Deno.test("ReplayWindow agrees with a set of every number seen, over seeded random arrivals", () => {
  const random = new Random(20261125);
  for (const size of [32, 64, 1024]) {
    const window = new ReplayWindow(size);
    const seen = new Set<number>();
    let highest = -1;
    let next = 0;
    for (let i = 0; i < 20_000; i++) {
      // Mostly fresh numbers, some reordered or duplicated nearby, some far behind or ahead.
      const roll = random.next();
      const sequence = roll < 0.6
        ? next++
        : roll < 0.9
        ? Math.max(0, next - 1 - Math.floor(random.next() * size * 1.5))
        : roll < 0.97
        ? Math.max(0, next - Math.floor(random.next() * 4))
        : (next += Math.floor(random.next() * size * 2));
      const expected = sequence > highest
        ? "accepted"
        : highest - sequence >= size
        ? "too_old"
        : seen.has(sequence)
        ? "replayed"
        : "accepted";
      assert.equal(window.check(sequence), expected, `size ${size}, step ${i}, ${sequence}`);
      if (expected === "accepted") {
        seen.add(sequence);
        highest = Math.max(highest, sequence);
      }
    }
  }
});
