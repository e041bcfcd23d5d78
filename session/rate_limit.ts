/**
 * The inbound rate limit of one connection: a token bucket of frames and one of bytes.
 *
 * @module
 */

import { TokenBucket } from "./token_bucket.ts";

/** Frames and bytes a second, each with its burst. */
export interface InboundRateLimitOptions {
  /** Frames a second. */
  readonly frames: number;
  /** The most frames in a burst. */
  readonly frameBurst: number;
  /** Bytes a second. */
  readonly bytes: number;
  /** The most bytes in a burst. */
  readonly byteBurst: number;
}

/** Admits frames while both buckets hold enough. */
export class InboundRateLimit {
  #frames: TokenBucket;
  #bytes: TokenBucket;
  #now: number;

  /**
   * Creates the limit with both buckets full.
   *
   * @param options The rates and bursts.
   * @param now The time in milliseconds (`performance.now()` by default).
   */
  constructor(options: InboundRateLimitOptions, now: number = performance.now()) {
    this.#now = now;
    // Both buckets read the time the caller gave for the current frame: it has read the clock.
    const clock = () => this.#now;
    this.#frames = new TokenBucket({ rate: options.frames, burst: options.frameBurst }, clock);
    this.#bytes = new TokenBucket({ rate: options.bytes, burst: options.byteBurst }, clock);
  }

  /**
   * Takes one frame and its bytes from the buckets.
   *
   * @param size The frame's size in bytes.
   * @param now The time in milliseconds (`performance.now()`), never earlier than the last.
   * @returns Whether both held enough; when not, neither is taken from.
   */
  admit(size: number, now: number): boolean {
    this.#now = now;
    if (this.#frames.tokens >= 1 && this.#bytes.tokens >= size) {
      this.#frames.take(1);
      this.#bytes.take(size);
      return true;
    }
    return false;
  }
}
