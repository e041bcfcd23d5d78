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

import { DEFAULT_MAX_FRAME_SIZE, MAX_FRAME_SIZE_LIMIT } from "./constants.ts";
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
   * The registry of each channel, where namespaces have schema sets of their own: message frames
   * on a channel resolve against what this returns, or against `schemas` when it returns
   * `undefined`.
   *
   * @default {undefined}
   */
  channelSchemas?: (channel: number) => SchemaRegistry | undefined;
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
 * The channel of one encoded frame, read past its length prefix and header byte without
 * decoding the rest.
 *
 * @param frame A complete, well-formed frame.
 * @returns Its channel.
 *
 * @example
 * ```ts
 * import { encodeFrame, Ping, readFrameChannel } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.equal(readFrameChannel(encodeFrame(Ping, { timestamp: 1 }, { channel: 300 })), 300);
 * ```
 */
export function readFrameChannel(frame: Uint8Array): number {
  let at = 0;
  while (frame[at]! & 0x80) at++;
  at += 2;
  let channel = 0;
  for (let shift = 0; shift < 21; shift += 7) {
    const byte = frame[at++]!;
    channel |= (byte & 0x7f) << shift;
    if (byte < 0x80) break;
  }
  return channel;
}
