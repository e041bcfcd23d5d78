/**
 * The anti-replay window of authenticated datagrams: each sequence number is accepted once, and
 * numbers too far behind the highest seen are refused, whatever their order of arrival within
 * the window. A bitmap over the last `size` numbers, as in RFC 6479.
 *
 * @module
 */

/**
 * What became of a sequence number: `accepted` (first time, within the window), `replayed`
 * (seen before) or `too_old` (further behind the highest than the window reaches).
 */
export type ReplayVerdict = "accepted" | "replayed" | "too_old";

/** The default window: the last 1024 sequence numbers. */
export const DEFAULT_REPLAY_WINDOW = 1024;

/** The largest sequence number (sequence numbers are uint32 and do not wrap within a session). */
export const MAX_SEQUENCE = 0xffff_ffff;

/**
 * A sliding window over uint32 sequence numbers.
 *
 * @example
 * ```ts
 * import { ReplayWindow } from "@game-socket/game-socket";
 * import assert from "node:assert/strict";
 *
 * const window = new ReplayWindow(64);
 * assert.equal(window.check(5), "accepted");
 * assert.equal(window.check(3), "accepted"); // late, but within the window
 * assert.equal(window.check(5), "replayed");
 * assert.equal(window.check(100), "accepted");
 * assert.equal(window.check(20), "too_old");
 * ```
 */
export class ReplayWindow {
  /** How many numbers behind the highest are still accepted once. */
  readonly size: number;
  #bits: Uint32Array;
  #highest = -1;

  /**
   * Creates an empty window.
   *
   * @param size How many numbers behind the highest are still accepted once: a multiple of 32.
   * @throws {RangeError} When the size is not a positive multiple of 32 up to 65536.
   */
  constructor(size: number = DEFAULT_REPLAY_WINDOW) {
    if (!Number.isInteger(size) || size < 32 || size > 65536 || size % 32 !== 0) {
      throw new RangeError(`A replay window is a multiple of 32 in 32..65536, got ${size}`);
    }
    this.size = size;
    this.#bits = new Uint32Array(size / 32);
  }

  /** The highest sequence number accepted, or -1 before the first. */
  get highest(): number {
    return this.#highest;
  }

  /**
   * Checks a sequence number and, when it is accepted, records it.
   *
   * @param sequence The datagram's sequence number, 0..2^32-1.
   * @returns Whether it is accepted, a replay, or too old.
   * @throws {RangeError} When the number is not a uint32.
   */
  check(sequence: number): ReplayVerdict {
    if (!Number.isInteger(sequence) || sequence < 0 || sequence > MAX_SEQUENCE) {
      throw new RangeError(`A sequence number is a uint32, got ${sequence}`);
    }
    const highest = this.#highest;
    if (sequence > highest) {
      this.#advance(sequence);
      this.#set(sequence);
      return "accepted";
    }
    if (highest - sequence >= this.size) return "too_old";
    if (this.#has(sequence)) return "replayed";
    this.#set(sequence);
    return "accepted";
  }

  /** Moves the window up to `sequence`, forgetting the numbers that fall out of it. */
  #advance(sequence: number): void {
    const gap = sequence - this.#highest;
    if (this.#highest < 0 || gap >= this.size) {
      this.#bits.fill(0);
    } else {
      for (let n = this.#highest + 1; n < sequence; n++) this.#clear(n);
      this.#clear(sequence);
    }
    this.#highest = sequence;
  }

  #slot(sequence: number): [number, number] {
    const position = sequence % this.size;
    return [position >>> 5, 1 << (position & 31)];
  }

  #has(sequence: number): boolean {
    const [word, bit] = this.#slot(sequence);
    return (this.#bits[word]! & bit) !== 0;
  }

  #set(sequence: number): void {
    const [word, bit] = this.#slot(sequence);
    this.#bits[word]! |= bit;
  }

  #clear(sequence: number): void {
    const [word, bit] = this.#slot(sequence);
    this.#bits[word]! &= ~bit;
  }
}
