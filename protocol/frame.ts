/**
 * Frames: how one message, or raw bytes, travels on a byte stream.
 *
 * ```
 * frame   = length header channel rest
 * length  = varuint (1..4 bytes): the byte count of header, channel and rest
 * header  = 1 byte: protocol version << 4 | kind
 * channel = varuint: the namespace's channel on this connection
 * rest    = code version body   (kind control or message)
 *         | data                (kind raw)
 * ```
 *
 * @module
 */

import { BinaryReader } from "./binary_reader.ts";
import { BinaryWriter } from "./binary_writer.ts";
import { BUILTIN_SCHEMAS } from "./builtin_schemas.ts";
import {
  DEFAULT_MAX_FRAME_SIZE,
  FrameKind,
  MAX_CHANNEL,
  MAX_FRAME_SIZE_LIMIT,
  MAX_LENGTH_PREFIX_BYTES,
  PROTOCOL_VERSION,
  ROOT_CHANNEL,
} from "./constants.ts";
import { ProtocolError } from "./errors.ts";
import type { Schema } from "./schema.ts";
import type { SchemaRegistry } from "./schema_registry.ts";

/** A decoded message frame: a built-in (`control`) or an application (`message`) schema. */
export interface MessageFrame<V extends object = Record<string, unknown>> {
  /** `control` for built-in schemas, `message` for the application's. */
  readonly type: "control" | "message";
  /** The channel (namespace) the frame travelled on. */
  readonly channel: number;
  /** The message's schema. */
  readonly schema: Schema<V>;
  /** The message's fields. */
  readonly value: V;
  /** The offset of the frame's first byte in the stream. */
  readonly offset: number;
  /** The frame's size in bytes, length prefix included. */
  readonly size: number;
}

/** A decoded raw frame: opaque bytes. */
export interface RawFrame {
  /** Always `raw`. */
  readonly type: "raw";
  /** The channel the frame travelled on. */
  readonly channel: number;
  /** The bytes (a copy). */
  readonly data: Uint8Array;
  /** The offset of the frame's first byte in the stream. */
  readonly offset: number;
  /** The frame's size in bytes, length prefix included. */
  readonly size: number;
}

/**
 * A message frame whose schema the receiver does not know, yielded only when a decoder is asked
 * to keep them (`unknownSchemas: "keep"`, as the packet inspector does).
 */
export interface UnknownSchemaFrame {
  /** Always `unknown`. */
  readonly type: "unknown";
  /** Whether the frame was a control or a message frame. */
  readonly kind: "control" | "message";
  /** The channel the frame travelled on. */
  readonly channel: number;
  /** The schema code. */
  readonly code: number;
  /** The schema version. */
  readonly version: number;
  /** The undecoded body (a copy). */
  readonly body: Uint8Array;
  /** The offset of the frame's first byte in the stream. */
  readonly offset: number;
  /** The frame's size in bytes, length prefix included. */
  readonly size: number;
}

/** Anything a decoder yields. */
export type Frame = MessageFrame | RawFrame | UnknownSchemaFrame;

/** Options for {@linkcode encodeFrame} and {@linkcode writeFrame}. */
export interface EncodeFrameOptions {
  /**
   * The channel (namespace) to send on.
   *
   * @default {0}
   */
  channel?: number;
  /**
   * The largest frame the receiver accepts: a bigger frame is refused here rather than there.
   *
   * @default {65536}
   */
  maxFrameSize?: number;
}

/** How a decoder resolves and checks what it reads. */
export interface FrameReadOptions {
  /**
   * The application's schemas, which message frames resolve against. Control frames always
   * resolve against the built-in schemas.
   *
   * @default {an empty registry}
   */
  schemas?: SchemaRegistry;
  /**
   * The channels open on the connection; frames on other channels are refused with
   * `unknown_channel`. Without it, any channel is accepted.
   *
   * @default {undefined}
   */
  channels?: { has(id: number): boolean };
  /**
   * What to do with a frame whose schema is not registered: `error` throws `unknown_schema`;
   * `keep` yields an {@linkcode UnknownSchemaFrame}.
   *
   * @default {"error"}
   */
  unknownSchemas?: "error" | "keep";
  /**
   * The largest frame accepted, in bytes after the length prefix, up to 16 MiB.
   *
   * @default {65536}
   */
  maxFrameSize?: number;
}

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
 * your own.
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
  return writer.bytes.subarray(start, writer.length);
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
  return writer.bytes.subarray(start, writer.length);
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
 * Checks a `maxFrameSize` option.
 *
 * @param value The option, or `undefined` for the default.
 * @returns The limit to use.
 * @throws {RangeError} When it is not an integer in 1..16 MiB.
 */
export function checkMaxFrameSize(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_FRAME_SIZE;
  if (!Number.isInteger(value) || value < 1 || value > MAX_FRAME_SIZE_LIMIT) {
    throw new RangeError(
      `maxFrameSize must be an integer in 1..${MAX_FRAME_SIZE_LIMIT}, got ${value}`,
    );
  }
  return value;
}

/**
 * Decodes one whole frame, length prefix included; `bytes` must hold exactly one frame. For a
 * stream, use {@linkcode FrameDecoder}.
 *
 * @param bytes The frame.
 * @param options The schemas, channels and limits.
 * @returns The decoded frame.
 * @throws {ProtocolError} When the bytes are not exactly one valid frame.
 * @throws {RangeError} When `maxFrameSize` is not an integer in 1..16 MiB.
 *
 * @example
 * ```ts
 * import { decodeFrame, encodeFrame, Ping } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const frame = decodeFrame(encodeFrame(Ping, { timestamp: 7 }));
 * assert.equal(frame.type, "control");
 * assert.ok(frame.type === "control" && frame.schema === Ping);
 * ```
 */
export function decodeFrame(bytes: Uint8Array, options: FrameReadOptions = NO_OPTIONS): Frame {
  const max = options.maxFrameSize;
  const maxFrameSize = max === undefined ? DEFAULT_MAX_FRAME_SIZE : checkMaxFrameSize(max);
  let length = bytes.length > 0 ? bytes[0]! : -1;
  let start = 1;
  if (length < 0 || length >= 0x80 || length > maxFrameSize) {
    const reader = new BinaryReader(bytes);
    length = readLengthPrefix(reader, maxFrameSize);
    start = reader.pos;
  } else if (length === 0) {
    checkLength(length, maxFrameSize, 0);
  }
  const remaining = bytes.length - start;
  if (length !== remaining) {
    if (length > remaining) {
      throw new ProtocolError(
        "truncated",
        `Cannot decode frame: length ${length} exceeds the ${remaining} bytes given`,
        { offset: start },
      );
    }
    throw new ProtocolError(
      "trailing_bytes",
      `Cannot decode frame: ${remaining - length} bytes after the frame`,
      { offset: start + length },
    );
  }
  return readFrameContent(bytes, start, bytes.length, 0, options);
}

/**
 * Reads a frame's length prefix and checks it.
 *
 * @param reader A reader at the prefix.
 * @param maxFrameSize The largest length accepted.
 * @returns The length.
 * @throws {ProtocolError} `empty_frame`, `frame_too_large`, or a varint error.
 */
export function readLengthPrefix(reader: BinaryReader, maxFrameSize: number): number {
  const at = reader.offset;
  const length = reader.varuint(2 ** (7 * MAX_LENGTH_PREFIX_BYTES) - 1, MAX_LENGTH_PREFIX_BYTES);
  checkLength(length, maxFrameSize, at);
  return length;
}

/**
 * Checks a frame length read from a length prefix.
 *
 * @param length The length.
 * @param maxFrameSize The largest length accepted.
 * @param offset Where the prefix began, for the error.
 * @throws {ProtocolError} `empty_frame` or `frame_too_large`.
 */
export function checkLength(length: number, maxFrameSize: number, offset: number): void {
  if (length === 0) {
    throw new ProtocolError("empty_frame", "Cannot decode frame: length is zero", { offset });
  }
  if (length > maxFrameSize) {
    throw new ProtocolError(
      "frame_too_large",
      `Cannot decode frame: length ${length} exceeds the maximum of ${maxFrameSize}`,
      { offset },
    );
  }
}

const NO_OPTIONS: FrameReadOptions = {};

const NO_SCHEMAS: { get(code: number, version: number): Schema<object> | undefined } = {
  get: () => undefined,
};

/**
 * Decodes the content of one frame: header, channel and the rest, in `bytes[start, end)`.
 *
 * @param bytes The buffer holding the frame.
 * @param start Where the header byte is.
 * @param end Just past the frame's last byte.
 * @param base The stream offset of `bytes[0]`, for offsets in frames and errors.
 * @param options The schemas, channels and unknown-schema policy.
 * @returns The frame.
 * @throws {ProtocolError} For any fault in the frame.
 */
export function readFrameContent(
  bytes: Uint8Array,
  start: number,
  end: number,
  base: number,
  options: FrameReadOptions,
): Frame {
  // Fast path: the header byte and a one-byte channel, read in place.
  const header = start < end ? bytes[start]! : -1;
  let channel = start + 1 < end ? bytes[start + 1]! : 0x80;
  let pos = start + 2;
  if (header >> 4 !== PROTOCOL_VERSION || channel >= 0x80) {
    const reader = new BinaryReader(bytes, start, end, base);
    const version = reader.uint8() >> 4;
    if (version !== PROTOCOL_VERSION) {
      throw new ProtocolError(
        "unsupported_version",
        `Cannot decode frame: protocol version ${version}, expected ${PROTOCOL_VERSION}`,
        { offset: base + start },
      );
    }
    channel = reader.varuint(MAX_CHANNEL, 3);
    pos = reader.pos;
  }
  if (options.channels !== undefined && !options.channels.has(channel)) {
    throw new ProtocolError(
      "unknown_channel",
      `Cannot decode frame: channel ${channel} is not open on this connection`,
      { offset: base + start + 1 },
    );
  }
  // The prefix is 1..4 bytes before `start`; its size follows from the frame length.
  const length = end - start;
  const prefixBytes = length < 0x80 ? 1 : length < 0x4000 ? 2 : length < 0x200000 ? 3 : 4;
  const offset = base + start - prefixBytes;
  const size = length + prefixBytes;
  const kind = header & 0x0f;
  if (kind === FrameKind.Raw) {
    return { type: "raw", channel, data: bytes.slice(pos, end), offset, size };
  }
  if (kind !== FrameKind.Control && kind !== FrameKind.Message) {
    throw new ProtocolError("unknown_frame_kind", `Cannot decode frame: unknown kind ${kind}`, {
      offset: base + start,
    });
  }
  if (end - pos < 2) {
    throw new ProtocolError("truncated", "Cannot decode frame: no schema code and version", {
      offset: base + pos,
    });
  }
  const code = bytes[pos]!;
  const version = bytes[pos + 1]!;
  const type = kind === FrameKind.Control ? "control" : "message";
  const registry = kind === FrameKind.Control ? BUILTIN_SCHEMAS : options.schemas ?? NO_SCHEMAS;
  const schema = registry.get(code, version);
  if (schema === undefined) {
    if (options.unknownSchemas === "keep") {
      const body = bytes.slice(pos + 2, end);
      return { type: "unknown", kind: type, channel, code, version, body, offset, size };
    }
    throw new ProtocolError(
      "unknown_schema",
      `Cannot decode frame: no ${type} schema ${code}.${version} is registered`,
      { offset: base + pos },
    );
  }
  const value = schema.codec.read(bytes, pos + 2, end, base);
  return { type, channel, schema: schema as Schema<Record<string, unknown>>, value, offset, size };
}
