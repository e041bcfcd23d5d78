/**
 * A growable byte buffer for encoding frames.
 *
 * @module
 */

const textEncoder = new TextEncoder();

/**
 * Writes big-endian numbers, varints, strings and bytes into a buffer that grows as needed.
 * Reuse one writer to encode many frames without allocating: `reset()` between them.
 *
 * The writer does not check values: the message codec checks them before writing.
 *
 * @example
 * ```ts
 * import { BinaryWriter } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const writer = new BinaryWriter();
 * writer.uint16(0x0102);
 * writer.varuint(300);
 * assert.deepEqual(writer.toBytes(), new Uint8Array([1, 2, 0xac, 0x02]));
 * ```
 */
export class BinaryWriter {
  /** The buffer; valid up to {@linkcode BinaryWriter.length}. Replaced when it grows. */
  bytes: Uint8Array;
  /** How many bytes have been written. */
  length = 0;
  #view: DataView;

  /**
   * Creates a writer.
   *
   * @param initialSize The buffer's starting size in bytes.
   */
  constructor(initialSize = 256) {
    this.bytes = new Uint8Array(Math.max(16, initialSize));
    this.#view = new DataView(this.bytes.buffer);
  }

  /** Forgets what was written, keeping the buffer. */
  reset(): void {
    this.length = 0;
  }

  /**
   * Makes room for `count` more bytes.
   *
   * @param count How many bytes are about to be written.
   */
  reserve(count: number): void {
    const needed = this.length + count;
    if (needed <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.#view = new DataView(grown.buffer);
  }

  /**
   * Writes one byte.
   *
   * @param value 0..255.
   */
  uint8(value: number): void {
    this.reserve(1);
    this.bytes[this.length++] = value;
  }

  /**
   * Writes two bytes, big-endian.
   *
   * @param value 0..65535 (or -32768..32767: the low 16 bits are written).
   */
  uint16(value: number): void {
    this.reserve(2);
    this.#view.setUint16(this.length, value);
    this.length += 2;
  }

  /**
   * Writes four bytes, big-endian.
   *
   * @param value 0..2^32-1 (or a signed int32: the low 32 bits are written).
   */
  uint32(value: number): void {
    this.reserve(4);
    this.#view.setUint32(this.length, value);
    this.length += 4;
  }

  /**
   * Writes an IEEE 754 single, big-endian.
   *
   * @param value The number.
   */
  float32(value: number): void {
    this.reserve(4);
    this.#view.setFloat32(this.length, value);
    this.length += 4;
  }

  /**
   * Writes an IEEE 754 double, big-endian.
   *
   * @param value The number.
   */
  float64(value: number): void {
    this.reserve(8);
    this.#view.setFloat64(this.length, value);
    this.length += 8;
  }

  /**
   * Writes an unsigned LEB128 varint: seven bits a byte, low groups first.
   *
   * @param value 0..2^32-1.
   */
  varuint(value: number): void {
    this.reserve(5);
    const bytes = this.bytes;
    while (value > 0x7f) {
      bytes[this.length++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    bytes[this.length++] = value;
  }

  /**
   * Writes bytes as they are (no length prefix).
   *
   * @param data The bytes.
   */
  raw(data: Uint8Array): void {
    this.reserve(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  /**
   * Writes a string as a varuint byte length and its UTF-8 bytes.
   *
   * @param value A well-formed string (the codec checks this before).
   * @returns How many UTF-8 bytes the string took.
   */
  string(value: string): number {
    const count = value.length;
    // ASCII fast path: one byte per code unit, prefix known up front.
    if (count < 0x80) {
      this.reserve(count + 1);
      const bytes = this.bytes;
      const start = this.length;
      let i = 0;
      for (; i < count; i++) {
        const unit = value.charCodeAt(i);
        if (unit >= 0x80) break;
        bytes[start + 1 + i] = unit;
      }
      if (i === count) {
        bytes[start] = count;
        this.length = start + 1 + count;
        return count;
      }
    }
    const encoded = textEncoder.encode(value);
    this.varuint(encoded.length);
    this.raw(encoded);
    return encoded.length;
  }

  /** Returns a copy of what was written. */
  toBytes(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}
