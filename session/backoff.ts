/**
 * The delays between reconnection attempts: exponential backoff with jitter, so that clients cut
 * off together do not all come back at the same instant.
 *
 * @module
 */

import { checkInteger } from "./check_option.ts";

/** Options of {@linkcode Backoff}. Every one has a default. */
export interface BackoffOptions {
  /**
   * Milliseconds before the first attempt.
   *
   * @default {500}
   */
  firstDelay?: number;
  /**
   * The longest delay, in milliseconds.
   *
   * @default {10000}
   */
  maxDelay?: number;
  /**
   * What each delay is multiplied by for the next attempt (at least 1).
   *
   * @default {2}
   */
  factor?: number;
  /**
   * How much of each delay is random, 0..1: the delay is drawn uniformly from
   * `[d × (1 − randomization), d × (1 + randomization)]`, then capped at `maxDelay`.
   *
   * @default {0.5}
   */
  randomization?: number;
  /**
   * The most attempts before giving up; `Infinity` never gives up.
   *
   * @default {Infinity}
   */
  maxAttempts?: number;
}

/** The backoff options with every default filled in. */
export type ResolvedBackoffOptions = Readonly<Required<BackoffOptions>>;

/**
 * Fills in defaults and checks ranges.
 *
 * @param options What the caller gave.
 * @returns Every option.
 * @throws {RangeError} When a value is out of range.
 */
export function resolveBackoffOptions(options: BackoffOptions = {}): ResolvedBackoffOptions {
  const firstDelay = checkInteger("firstDelay", options.firstDelay ?? 500, 0);
  const maxDelay = checkInteger("maxDelay", options.maxDelay ?? 10_000, 0);
  const factor = options.factor ?? 2;
  if (!(factor >= 1) || !Number.isFinite(factor)) {
    throw new RangeError(`factor must be a finite number of at least 1, got ${factor}`);
  }
  const randomization = options.randomization ?? 0.5;
  if (!(randomization >= 0 && randomization <= 1)) {
    throw new RangeError(`randomization must be in 0..1, got ${randomization}`);
  }
  const maxAttempts = options.maxAttempts ?? Infinity;
  if (maxAttempts !== Infinity) checkInteger("maxAttempts", maxAttempts, 1);
  return { firstDelay, maxDelay, factor, randomization, maxAttempts };
}

/**
 * A sequence of delays: each attempt's delay is the previous one times `factor`, capped at
 * `maxDelay`, with `randomization` of it random.
 *
 * @example
 * ```ts
 * import { Backoff } from "@game-socket/game-socket";
 * import assert from "node:assert/strict";
 *
 * const backoff = new Backoff({ firstDelay: 100, factor: 2, maxDelay: 300, randomization: 0 });
 * assert.deepEqual([backoff.next(), backoff.next(), backoff.next()], [100, 200, 300]);
 * backoff.reset();
 * assert.equal(backoff.next(), 100);
 * ```
 */
export class Backoff {
  /** The options, defaults filled in. */
  readonly options: ResolvedBackoffOptions;
  #random: () => number;
  #attempts = 0;

  /**
   * Creates a backoff.
   *
   * @param options Delays, factor, randomization, attempts.
   * @param random A source of numbers in [0, 1), for tests; `Math.random` by default.
   * @throws {RangeError} When an option is out of range.
   */
  constructor(options: BackoffOptions = {}, random: () => number = Math.random) {
    this.options = resolveBackoffOptions(options);
    this.#random = random;
  }

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.#attempts;
  }

  /** Whether every attempt allowed has been made. */
  get exhausted(): boolean {
    return this.#attempts >= this.options.maxAttempts;
  }

  /**
   * The delay before the next attempt, counting it as made.
   *
   * @returns Milliseconds, or `undefined` when the attempts are exhausted.
   */
  next(): number | undefined {
    if (this.exhausted) return undefined;
    const { firstDelay, maxDelay, factor, randomization } = this.options;
    const base = Math.min(maxDelay, firstDelay * factor ** this.#attempts);
    this.#attempts++;
    const spread = base * randomization * (2 * this.#random() - 1);
    return Math.max(0, Math.min(maxDelay, Math.round(base + spread)));
  }

  /** Starts over: the next delay is the first (after a successful attempt). */
  reset(): void {
    this.#attempts = 0;
  }
}
