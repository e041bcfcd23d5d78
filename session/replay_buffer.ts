/**
 * What one side of a session has sent and the peer has not yet confirmed: the frames a
 * recovered session sends again. It holds the frames themselves, not copies, so a broadcast's
 * one encoded frame is shared by every member's buffer.
 *
 * @module
 */

/** The bounds of a {@linkcode ReplayBuffer}. */
export interface ReplayBufferLimits {
  /** The most unconfirmed frames kept. */
  readonly maxFrames: number;
  /** The most bytes of unconfirmed frames kept. */
  readonly maxBytes: number;
}

/**
 * The frames sent in one direction of a session, counted from 0, kept until the peer confirms
 * them. Past its limits it gives up (`overflowed`): a session that lost frames it might have to
 * send again cannot be recovered, and says so rather than recovering with a gap.
 */
export class ReplayBuffer {
  /** The bounds. */
  readonly limits: ReplayBufferLimits;
  /** The frames kept are `#frames[#head..]`; the first of them is frame number `#first`. */
  #frames: Uint8Array[] = [];
  #head = 0;
  #first = 0;
  #bytes = 0;
  #overflowed = false;

  /**
   * Creates an empty buffer.
   *
   * @param limits The most frames and bytes kept unconfirmed.
   * @throws {RangeError} When a limit is not a positive integer.
   */
  constructor(limits: ReplayBufferLimits) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(`${name} must be a positive integer, got ${value}`);
      }
    }
    this.limits = limits;
  }

  /** Frames sent so far: the count the peer confirms against. */
  get sent(): number {
    return this.#first + this.#frames.length - this.#head;
  }

  /** Frames kept, not yet confirmed. */
  get size(): number {
    return this.#frames.length - this.#head;
  }

  /** Bytes of the frames kept. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether a frame was sent that the buffer could not keep: the session cannot be recovered. */
  get overflowed(): boolean {
    return this.#overflowed;
  }

  /**
   * Records a frame sent.
   *
   * @param frame The frame's bytes, kept as they are (they must not change).
   * @returns Whether it was kept (`false` once the buffer has overflowed).
   */
  push(frame: Uint8Array): boolean {
    if (this.#overflowed) {
      this.#first++;
      return false;
    }
    if (
      this.size + 1 > this.limits.maxFrames || this.#bytes + frame.length > this.limits.maxBytes
    ) {
      this.#overflowed = true;
      this.#first += this.size + 1;
      this.#frames = [];
      this.#head = 0;
      this.#bytes = 0;
      return false;
    }
    this.#frames.push(frame);
    this.#bytes += frame.length;
    return true;
  }

  /**
   * The peer has received the first `count` frames: they are dropped. A count below what was
   * confirmed already, or above what was sent, is ignored.
   *
   * @param count How many frames the peer has received in all.
   */
  confirm(count: number): void {
    if (this.#overflowed || count > this.sent) return;
    while (this.#first < count) {
      this.#bytes -= this.#frames[this.#head]!.length;
      this.#head++;
      this.#first++;
    }
    // Compact now and then, so confirmed frames are not held by the array.
    if (this.#head > 64 && this.#head * 2 > this.#frames.length) {
      this.#frames = this.#frames.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * The frames sent after the peer's first `count`, to send again.
   *
   * @param count How many frames the peer has received in all.
   * @returns The frames, in order; `undefined` when they cannot all be given (the buffer
   *   overflowed, the peer claims frames never sent, or frames it did not confirm were dropped).
   */
  since(count: number): Uint8Array[] | undefined {
    if (this.#overflowed || count > this.sent || count < this.#first) return undefined;
    return this.#frames.slice(this.#head + (count - this.#first));
  }
}
