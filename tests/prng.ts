/**
 * A tiny seeded pseudo-random number generator for reproducible randomized tests.
 *
 * @module
 */

import { mulberry32 } from "../load/seeded_random.ts";

export { mulberry32 };

/** Helpers over a generator: integers, picks and coin flips. */
export class Random {
  readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  /** An integer in [min, max], inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}
