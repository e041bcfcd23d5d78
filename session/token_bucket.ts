/**
 * A token bucket: a rate limit that allows bursts. It refills at `rate` tokens a second up to
 * `burst`; each action takes tokens, and an action that finds too few is over the limit.
 *
 * @module
 */

/** The limit of a {@linkcode TokenBucket}. */
export interface TokenBucketLimit {
  /** Tokens added per second. */
  readonly rate: number;
  /** The most tokens held: the largest burst allowed after a quiet spell. */
  readonly burst: number;
}

/** A rate limit that allows bursts. The bucket starts full. */
export class TokenBucket {
  /** The limit. */
  readonly limit: TokenBucketLimit;
  #tokens: number;
  #at: number;
  #clock: () => number;

  /**
   * Creates a full bucket.
   *
   * @param limit Tokens per second, and the burst.
   * @param clock The time in milliseconds (`performance.now` by default; tests give their own).
   * @throws {RangeError} When the rate or burst is not a positive finite number.
   */
  constructor(limit: TokenBucketLimit, clock: () => number = () => performance.now()) {
    for (const [name, value] of Object.entries(limit)) {
      if (!(value > 0) || !Number.isFinite(value)) {
        throw new RangeError(`A token bucket's ${name} must be a positive number, got ${value}`);
      }
    }
    this.limit = limit;
    this.#clock = clock;
    this.#tokens = limit.burst;
    this.#at = clock();
  }

  /** The tokens held now. */
  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /**
   * Takes tokens for an action.
   *
   * @param count How many the action costs (a frame: 1; its bytes: its size).
   * @returns Whether there were enough; when not, none are taken.
   */
  take(count = 1): boolean {
    this.#refill();
    if (this.#tokens < count) return false;
    this.#tokens -= count;
    return true;
  }

  #refill(): void {
    const now = this.#clock();
    const { rate, burst } = this.limit;
    this.#tokens = Math.min(burst, this.#tokens + (now - this.#at) * rate / 1000);
    this.#at = now;
  }
}
