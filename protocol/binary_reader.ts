/**
 * A bounds-checked reader over untrusted bytes.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Reads big-endian numbers, varints, strings and bytes from a slice of a buffer. Every read is
 * checked against the end of the slice; a fault throws a {@linkcode ProtocolError} whose offset is
 * counted from `base`.
 *
 * @example
 * ```ts
 * import { BinaryReader, ProtocolError } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const reader = new BinaryReader(new Uint8Array([1, 2, 0xac, 0x02]));
 * assert.equal(reader.uint16(), 0x0102);
 * assert.equal(reader.varuint(), 300);
 * assert.throws(() => reader.uint8(), ProtocolError);
 * ```
 */
export class BinaryReader {
  /** The buffer being read. */
  readonly bytes: Uint8Array;
  /** The index of the next byte to read. */
  pos: number;
  /** The index just past the last byte this reader may read. */
  readonly end: number;
  /** Added to positions in error offsets, so they count from the start of a stream. */
  readonly base: number;
  #view: DataView | undefined;

  /**
   * Creates a reader over `bytes[start, end)`.
   *
   * @param bytes The buffer.
   * @param start The first byte to read.
   * @param end Just past the last byte to read.
   * @param base What to add to positions in error offsets.
   */
  constructor(bytes: Uint8Array, start = 0, end: number = bytes.length, base = 0) {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
    this.base = base;
  }

  /** How many bytes are left. */
  get remaining(): number {
    return this.end - this.pos;
  }

  /** The offset of the next byte, counted from the start of the stream. */
  get offset(): number {
    return this.base + this.pos;
  }

  #need(count: number, what: string): void {
    if (this.end - this.pos < count) {
      throw new ProtocolError(
        "truncated",
        `Cannot read ${what}: needs ${count} bytes, ${this.end - this.pos} left in the frame`,
        { offset: this.base + this.pos },
      );
    }
  }

  #dataView(): DataView {
    return this.#view ??= new DataView(
      this.bytes.buffer,
      this.bytes.byteOffset,
      this.bytes.byteLength,
    );
  }

  /** Reads one byte. */
  uint8(): number {
    if (this.pos >= this.end) this.#need(1, "uint8");
    return this.bytes[this.pos++]!;
  }

  /** Reads a big-endian uint16. */
  uint16(): number {
    this.#need(2, "uint16");
    const bytes = this.bytes;
    const value = (bytes[this.pos]! << 8) | bytes[this.pos + 1]!;
    this.pos += 2;
    return value;
  }

  /** Reads a big-endian uint32. */
  uint32(): number {
    this.#need(4, "uint32");
    const value = this.#dataView().getUint32(this.pos);
    this.pos += 4;
    return value;
  }

  /** Reads a big-endian IEEE 754 single. */
  float32(): number {
    this.#need(4, "float32");
    const value = this.#dataView().getFloat32(this.pos);
    this.pos += 4;
    return value;
  }

  /** Reads a big-endian IEEE 754 double. */
  float64(): number {
    this.#need(8, "float64");
    const value = this.#dataView().getFloat64(this.pos);
    this.pos += 8;
    return value;
  }

  /**
   * Reads an unsigned LEB128 varint of at most `maxBytes` bytes and at most `max`.
   *
   * @param max The largest value allowed.
   * @param maxBytes The most bytes the varint may take.
   * @returns The value.
   * @throws {ProtocolError} `varint_overlong` for a redundant trailing zero group,
   * `varint_oversized` past `maxBytes` or `max`, `truncated` at the end of the slice.
   */
  varuint(max = 0xffff_ffff, maxBytes = 5): number {
    const start = this.pos;
    const first = this.pos < this.end ? this.bytes[this.pos]! : -1;
    if (first >= 0 && first < 0x80) {
      this.pos++;
      if (first > max) this.#oversized(start, first, max);
      return first;
    }
    let value = 0;
    let scale = 1;
    for (let i = 0;; i++) {
      if (i === maxBytes) {
        throw new ProtocolError(
          "varint_oversized",
          `Cannot read varint: longer than ${maxBytes} bytes`,
          { offset: this.base + start },
        );
      }
      if (this.pos >= this.end) this.#need(1, "varint");
      const byte = this.bytes[this.pos++]!;
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) {
        if (byte === 0 && i > 0) {
          throw new ProtocolError(
            "varint_overlong",
            "Cannot read varint: it ends in a redundant zero byte",
            { offset: this.base + start },
          );
        }
        if (value > max) this.#oversized(start, value, max);
        return value;
      }
    }
  }

  #oversized(start: number, value: number, max: number): never {
    throw new ProtocolError(
      "varint_oversized",
      `Cannot read varint: ${value} exceeds the maximum of ${max}`,
      { offset: this.base + start },
    );
  }

  /**
   * Reads `count` bytes as a copy, so that the result outlives the buffer.
   *
   * @param count How many bytes.
   * @returns A new array holding them.
   */
  bytesCopy(count: number): Uint8Array {
    this.#need(count, `${count} bytes`);
    const value = this.bytes.slice(this.pos, this.pos + count);
    this.pos += count;
    return value;
  }

  /**
   * Reads `count` bytes of UTF-8, refusing anything that is not valid UTF-8.
   *
   * @param count How many bytes.
   * @returns The decoded string.
   * @throws {ProtocolError} `invalid_utf8`, or `truncated`.
   */
  utf8(count: number): string {
    this.#need(count, `a ${count}-byte string`);
    const bytes = this.bytes;
    const start = this.pos;
    const end = start + count;
    this.pos = end;
    if (count <= 32) {
      // ASCII fast path: no decoder call for short ASCII names.
      let ascii = true;
      for (let i = start; i < end; i++) {
        if (bytes[i]! >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) return String.fromCharCode.apply(null, bytes.subarray(start, end) as never);
    }
    try {
      return utf8.decode(bytes.subarray(start, end));
    } catch (cause) {
      throw new ProtocolError("invalid_utf8", "Cannot read string: invalid UTF-8", {
        offset: this.base + start,
        cause,
      });
    }
  }
}
