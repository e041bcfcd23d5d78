/**
 * Decoding one whole frame, and the header and length-prefix checks that the stream decoder
 * shares.
 *
 * @module
 */

import { BinaryReader } from "./binary_reader.ts";
import { BUILTIN_SCHEMAS } from "./builtin_schemas.ts";
import {
  DEFAULT_MAX_FRAME_SIZE,
  FrameKind,
  MAX_CHANNEL,
  MAX_LENGTH_PREFIX_BYTES,
  PROTOCOL_VERSION,
} from "./constants.ts";
import { ProtocolError } from "./errors.ts";
import { checkMaxFrameSize, type Frame, type FrameReadOptions } from "./frame.ts";
import type { Schema } from "./schema.ts";

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
  const registry = kind === FrameKind.Control
    ? BUILTIN_SCHEMAS
    : options.channelSchemas?.(channel) ?? options.schemas ?? NO_SCHEMAS;
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
