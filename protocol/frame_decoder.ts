/**
 * The incremental frame decoder: bytes in, in chunks of any size; whole frames out.
 *
 * @module
 */

import { MAX_LENGTH_PREFIX_BYTES } from "./constants.ts";
import { ProtocolError } from "./errors.ts";
import { checkLength, readFrameContent } from "./decode_frame.ts";
import { checkMaxFrameSize, type Frame, type FrameReadOptions } from "./frame.ts";

/** Options for {@linkcode FrameDecoder}: see {@linkcode FrameReadOptions}. */
export type FrameDecoderOptions = FrameReadOptions;

/**
 * Splits a byte stream into frames and decodes them. Feed it chunks as they arrive, split or
 * coalesced at any byte; it yields each frame once all its bytes are in.
 *
 * The length prefix is checked against `maxFrameSize` before any of the frame is buffered, so an
 * untrusted length never makes it allocate more. The first fault throws a
 * {@linkcode ProtocolError} (its `offset` counts from the start of the stream); frames before it
 * have been yielded whole, none after it, and every later `push` throws the same error.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameDecoder, Ping } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodeFrame(Ping, { timestamp: 42 });
 * const decoder = new FrameDecoder();
 * assert.equal([...decoder.push(bytes.subarray(0, 3))].length, 0);
 * const [frame] = [...decoder.push(bytes.subarray(3))];
 * assert.deepEqual(frame?.type === "control" && frame.value, { timestamp: 42 });
 * ```
 */
export class FrameDecoder {
  #options: FrameReadOptions;
  #maxFrameSize: number;
  /** Stream offset of the next chunk's first byte. */
  #consumed = 0;
  /** A length prefix that spans chunks: its value so far and its byte count. */
  #prefixValue = 0;
  #prefixBytes = 0;
  /** Stream offset of the frame being read. */
  #frameStart = 0;
  /** The body of a frame that spans chunks, and how much of it is filled. */
  #body: Uint8Array | undefined;
  #filled = 0;
  #failed: ProtocolError | undefined;
  /** Bytes of a chunk whose iteration was stopped early, read first by the next push. */
  #leftover: Uint8Array | undefined;

  /**
   * Creates a decoder.
   *
   * @param options The schemas, channels, unknown-schema policy and size limit.
   * @throws {RangeError} When `maxFrameSize` is not in 1..16 MiB.
   */
  constructor(options: FrameDecoderOptions = {}) {
    this.#maxFrameSize = checkMaxFrameSize(options.maxFrameSize);
    this.#options = options;
  }

  /** The stream offset just past the last byte read. */
  get offset(): number {
    return this.#consumed;
  }

  /**
   * How many bytes are held, waiting: those of an unfinished frame, and those left unread when
   * an iteration stopped early.
   */
  get buffered(): number {
    return this.#prefixBytes + (this.#body === undefined ? 0 : this.#filled) +
      (this.#leftover?.length ?? 0);
  }

  /** The error that stopped this decoder, if one has. */
  get error(): ProtocolError | undefined {
    return this.#failed;
  }

  /**
   * Feeds a chunk and yields every frame it completes. The chunk is read as the iteration goes;
   * if the iteration stops early (a `break`), the unread bytes are kept and read first by the
   * next `push`, so no frame is lost.
   *
   * @param chunk The next bytes of the stream. They are not kept after the iteration.
   * @returns The completed frames, in order.
   * @throws {ProtocolError} At the first fault in the stream.
   */
  *push(chunk: Uint8Array): Generator<Frame, void, undefined> {
    if (this.#failed !== undefined) throw this.#failed;
    if (this.#leftover !== undefined) {
      const joined = new Uint8Array(this.#leftover.length + chunk.length);
      joined.set(this.#leftover);
      joined.set(chunk, this.#leftover.length);
      chunk = joined;
      this.#leftover = undefined;
    }
    const base = this.#consumed;
    const end = chunk.length;
    let pos = 0;
    try {
      while (pos < end) {
        const body = this.#body;
        if (body !== undefined) {
          const take = Math.min(body.length - this.#filled, end - pos);
          body.set(chunk.subarray(pos, pos + take), this.#filled);
          this.#filled += take;
          pos += take;
          if (this.#filled < body.length) break;
          this.#body = undefined;
          const bodyAt = this.#frameStart + this.#prefixBytes;
          this.#prefixBytes = 0;
          yield readFrameContent(body, 0, body.length, bodyAt, this.#options);
          continue;
        }
        if (this.#prefixBytes === 0) this.#frameStart = base + pos;
        const length = this.#readPrefix(chunk[pos++]!);
        if (length < 0) continue;
        if (end - pos >= length) {
          this.#prefixBytes = 0;
          const start = pos;
          pos += length;
          yield readFrameContent(chunk, start, pos, base, this.#options);
        } else {
          this.#body = new Uint8Array(length);
          this.#filled = 0;
        }
      }
    } catch (error) {
      pos = end;
      this.#failed = error instanceof ProtocolError ? error : new ProtocolError(
        "protocol_violation",
        `Cannot decode frame: ${String(error)}`,
        { offset: this.#frameStart, cause: error },
      );
      throw this.#failed;
    } finally {
      // A consumer that stops iterating early leaves bytes unread: keep a copy (the caller may
      // reuse its buffer) for the next push, so that no frame is lost or cut.
      if (pos < end) this.#leftover = chunk.slice(pos);
      this.#consumed = base + pos;
    }
  }

  /** Adds one byte to the length prefix; returns the length when complete, else -1. */
  #readPrefix(byte: number): number {
    const at = this.#frameStart;
    this.#prefixValue = this.#prefixBytes === 0
      ? byte & 0x7f
      : this.#prefixValue + (byte & 0x7f) * 2 ** (7 * this.#prefixBytes);
    this.#prefixBytes++;
    if (byte >= 0x80) {
      if (this.#prefixBytes === MAX_LENGTH_PREFIX_BYTES) {
        throw new ProtocolError(
          "varint_oversized",
          `Cannot decode frame: length prefix longer than ${MAX_LENGTH_PREFIX_BYTES} bytes`,
          { offset: at },
        );
      }
      return -1;
    }
    if (byte === 0 && this.#prefixBytes > 1) {
      throw new ProtocolError(
        "varint_overlong",
        "Cannot decode frame: length prefix ends in a redundant zero byte",
        { offset: at },
      );
    }
    checkLength(this.#prefixValue, this.#maxFrameSize, at);
    return this.#prefixValue;
  }
}
