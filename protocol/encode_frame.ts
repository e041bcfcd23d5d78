/**
 * Encoding frames: a message or raw bytes, with the length prefix and header (layout in
 * `frame.ts` and docs/PROTOCOL.md).
 *
 * @module
 */

import { BinaryWriter } from "./binary_writer.ts";
import { BUILTIN_SCHEMAS } from "./builtin_schemas.ts";
import {
  FrameKind,
  MAX_CHANNEL,
  MAX_FRAME_SIZE_LIMIT,
  PROTOCOL_VERSION,
  ROOT_CHANNEL,
} from "./constants.ts";
import { checkMaxFrameSize, type EncodeFrameOptions } from "./frame.ts";
import type { Schema } from "./schema.ts";

const HEADER_BASE = PROTOCOL_VERSION << 4;
const SLAB_SIZE = 64 * 1024;
const SLAB_LOW_WATER = 1024;
/** Frames from encodeFrame are views into this slab, so that small frames share allocations. */
let slab = new BinaryWriter(SLAB_SIZE);

function slabWithRoom(): BinaryWriter {
  if (slab.bytes.length - slab.length < SLAB_LOW_WATER) slab = new BinaryWriter(SLAB_SIZE);
  return slab;
}

/**
 * The frame just written to the slab at `start`. A frame that did not fit made the slab grow;
 * it gets a buffer of its own and the slab is replaced, so the shared slab never grows past
 * SLAB_SIZE (otherwise large frames would double it again and again, each copy held alive).
 */
function takeFrame(writer: BinaryWriter, start: number): Uint8Array {
  if (writer.bytes.length <= SLAB_SIZE) return writer.bytes.subarray(start, writer.length);
  const frame = writer.bytes.slice(start, writer.length);
  slab = new BinaryWriter(SLAB_SIZE);
  return frame;
}

/**
 * Appends one complete frame holding a message of `schema` to `writer`. Built-in schemas go in
 * control frames, all others in message frames. On an error nothing is appended.
 *
 * @param writer Where to append.
 * @param schema The message's schema.
 * @param value The message's value.
 * @param options The channel and the size limit.
 * @throws {TypeError} When a field is missing or has the wrong type.
 * @throws {RangeError} When a value is out of range, or the frame exceeds `maxFrameSize`.
 *
 * @example Two frames in one buffer, ready for one write
 * ```ts
 * import { BinaryWriter, Ping, writeFrame } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const writer = new BinaryWriter();
 * writeFrame(writer, Ping, { timestamp: 1 });
 * writeFrame(writer, Ping, { timestamp: 2 });
 * assert.equal(writer.length, 18);
 * ```
 */
export function writeFrame<V extends object>(
  writer: BinaryWriter,
  schema: Schema<V>,
  value: V,
  options?: EncodeFrameOptions,
): void {
  const start = writer.length;
  const channel = options?.channel ?? ROOT_CHANNEL;
  try {
    const kind = BUILTIN_SCHEMAS.has(schema) ? FrameKind.Control : FrameKind.Message;
    writeHeader(writer, kind, channel);
    writer.uint8(schema.code);
    writer.uint8(schema.version);
    schema.codec.write(writer, value);
    finishFrame(writer, start, options?.maxFrameSize);
  } catch (error) {
    writer.length = start;
    throw error;
  }
}

/**
 * Encodes one message as a complete frame.
 *
 * The result is a view into a 64 KiB buffer that later frames share (never overwrite), as
 * msgpackr's `pack` does: it stays valid, but keeps that buffer alive while it is held. Copy it
 * (`slice()`) to keep one frame for long; use {@linkcode writeFrame} to encode into a buffer of
 * your own. A frame too large for the shared buffer gets a buffer of its own.
 *
 * @param schema The message's schema.
 * @param value The message's value.
 * @param options The channel and the size limit.
 * @returns A new buffer holding the frame.
 * @throws {TypeError} When a field is missing or has the wrong type.
 * @throws {RangeError} When a value is out of range, or the frame exceeds `maxFrameSize`.
 *
 * @example
 * ```ts
 * import { encodeFrame, Ping } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const bytes = encodeFrame(Ping, { timestamp: 1000 });
 * assert.deepEqual([...bytes], [0x08, 0x10, 0x00, 0x03, 0x00, 0x00, 0x00, 0x03, 0xe8]);
 * ```
 */
export function encodeFrame<V extends object>(
  schema: Schema<V>,
  value: V,
  options?: EncodeFrameOptions,
): Uint8Array {
  const writer = slabWithRoom();
  const start = writer.length;
  writeFrame(writer, schema, value, options);
  return takeFrame(writer, start);
}

/**
 * Appends one raw frame: opaque bytes that are not a protocol message.
 *
 * @param writer Where to append.
 * @param data The bytes.
 * @param options The channel and the size limit.
 * @throws {RangeError} When the frame exceeds `maxFrameSize`, or the channel is out of range.
 */
export function writeRawFrame(
  writer: BinaryWriter,
  data: Uint8Array,
  options?: EncodeFrameOptions,
): void {
  const start = writer.length;
  try {
    writeHeader(writer, FrameKind.Raw, options?.channel ?? ROOT_CHANNEL);
    writer.raw(data);
    finishFrame(writer, start, options?.maxFrameSize);
  } catch (error) {
    writer.length = start;
    throw error;
  }
}

/**
 * Encodes opaque bytes as a raw frame.
 *
 * @param data The bytes.
 * @param options The channel and the size limit.
 * @returns A new buffer holding the frame.
 * @throws {RangeError} When the frame exceeds `maxFrameSize`.
 *
 * @example
 * ```ts
 * import { encodeRawFrame } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual([...encodeRawFrame(new Uint8Array([0xca, 0xfe]))], [0x04, 0x12, 0x00, 0xca, 0xfe]);
 * ```
 */
export function encodeRawFrame(data: Uint8Array, options?: EncodeFrameOptions): Uint8Array {
  const writer = slabWithRoom();
  const start = writer.length;
  writeRawFrame(writer, data, options);
  return takeFrame(writer, start);
}

function writeHeader(writer: BinaryWriter, kind: FrameKind, channel: number): void {
  if (!Number.isInteger(channel) || channel < 0 || channel > MAX_CHANNEL) {
    throw new RangeError(`Cannot encode frame: channel ${channel} is not in 0..${MAX_CHANNEL}`);
  }
  writer.reserve(1 + 1 + 3);
  writer.length++; // the length prefix, for the common case of a frame under 128 bytes
  writer.bytes[writer.length++] = HEADER_BASE | kind;
  if (channel < 0x80) writer.bytes[writer.length++] = channel;
  else writer.varuint(channel);
}

function finishFrame(writer: BinaryWriter, start: number, maxFrameSize?: number): void {
  const size = writer.length - start - 1;
  const max = checkMaxFrameSize(maxFrameSize);
  if (size > max) {
    throw new RangeError(`Cannot encode frame: ${size} bytes exceed the maximum of ${max}`);
  }
  if (size < 0x80) {
    writer.bytes[start] = size;
    return;
  }
  // A longer prefix: move the frame right to make room for it.
  let prefixBytes = 1;
  while (size >= 2 ** (7 * prefixBytes)) prefixBytes++;
  writer.reserve(prefixBytes - 1);
  const bytes = writer.bytes;
  bytes.copyWithin(start + prefixBytes, start + 1, writer.length);
  writer.length += prefixBytes - 1;
  let rest = size;
  for (let i = 0; i < prefixBytes; i++) {
    bytes[start + i] = i === prefixBytes - 1 ? rest : (rest & 0x7f) | 0x80;
    rest = Math.floor(rest / 128);
  }
}

/**
 * Copies a complete frame onto another channel, without decoding or encoding its content. A
 * broadcast encodes its frame once and uses this for recipients whose connection gave the
 * namespace another channel id.
 *
 * @param frame A complete frame, length prefix included.
 * @param channel The channel to put it on.
 * @returns The same frame on `channel` (the input itself when it is on `channel` already).
 * @throws {RangeError} When the channel is out of range or `frame` is not a complete frame.
 *
 * @example
 * ```ts
 * import { encodeFrame, Ping, rechannelFrame } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const onZero = encodeFrame(Ping, { timestamp: 1 });
 * assert.deepEqual(rechannelFrame(onZero, 300), encodeFrame(Ping, { timestamp: 1 }, { channel: 300 }));
 * ```
 */
export function rechannelFrame(frame: Uint8Array, channel: number): Uint8Array {
  let pos = 0;
  let length = 0;
  for (let shift = 1;; shift *= 128) {
    const byte = frame[pos++];
    if (byte === undefined || pos > 4) throw new RangeError("Cannot rechannel: not a frame");
    length += (byte & 0x7f) * shift;
    if (byte < 0x80) break;
  }
  if (pos + length !== frame.length) throw new RangeError("Cannot rechannel: not one whole frame");
  const header = frame[pos]!;
  let channelEnd = pos + 1;
  let oldChannel = 0;
  for (let shift = 1;; shift *= 128) {
    const byte = frame[channelEnd++];
    if (byte === undefined || channelEnd > pos + 4) {
      throw new RangeError("Cannot rechannel: not a frame");
    }
    oldChannel += (byte & 0x7f) * shift;
    if (byte < 0x80) break;
  }
  if (oldChannel === channel) return frame;
  const rest = frame.subarray(channelEnd);
  const writer = slabWithRoom();
  const start = writer.length;
  try {
    writeHeader(writer, (header & 0x0f) as FrameKind, channel);
  } catch (error) {
    writer.length = start;
    throw error;
  }
  writer.bytes[start + 1] = header;
  writer.raw(rest);
  finishFrame(writer, start, MAX_FRAME_SIZE_LIMIT);
  return takeFrame(writer, start);
}
