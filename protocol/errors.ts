/**
 * The one error type for bad input from the network.
 *
 * @module
 */

/**
 * Why a frame or message from the network was refused. Each code is documented in
 * docs/PROTOCOL.md ("Error codes").
 */
export type ProtocolErrorCode =
  /** A length prefix names a frame larger than the receiver's `maxFrameSize`. */
  | "frame_too_large"
  /** A length prefix of zero: every frame has at least its header byte. */
  | "empty_frame"
  /** A varint written with more bytes than it needs (a trailing zero group). */
  | "varint_overlong"
  /** A varint longer than its type allows, or whose value exceeds its type's range. */
  | "varint_oversized"
  /** The header's protocol version nibble is not this implementation's. */
  | "unsupported_version"
  /** The header names a frame kind that does not exist. */
  | "unknown_frame_kind"
  /** A frame on a channel that was never opened on this connection. */
  | "unknown_channel"
  /** No schema with this code and version is registered. */
  | "unknown_schema"
  /** A field or header runs past the end of its frame. */
  | "truncated"
  /** A string field holds bytes that are not valid UTF-8. */
  | "invalid_utf8"
  /** Bytes remain in the frame after its schema's last field. */
  | "trailing_bytes"
  /** A presence or bool bit is set where no field stands, or for an absent field. */
  | "padding_bits"
  /** A field's value is outside what its type allows (a NaN float, a too-long string). */
  | "invalid_value"
  /** The peer broke the session's rules (a frame out of order, an unknown event id). */
  | "protocol_violation"
  /** The peer went over one of the receiver's limits: a {@linkcode LimitExceededError}. */
  | "limit_exceeded";

/** Options for {@linkcode ProtocolError}. */
export interface ProtocolErrorOptions {
  /**
   * The byte offset in the stream (or in the buffer being decoded) where the fault was found.
   *
   * @default {undefined}
   */
  offset?: number;
  /**
   * The underlying error, if any.
   *
   * @default {undefined}
   */
  cause?: unknown;
}

/**
 * Bad input from the network: a frame or message that does not follow the protocol.
 *
 * Callers tell faults apart by {@linkcode ProtocolError.code}, never by the message text.
 *
 * @example Telling a protocol fault apart
 * ```ts
 * import { FrameDecoder, ProtocolError } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const decoder = new FrameDecoder();
 * assert.throws(
 *   () => [...decoder.push(new Uint8Array([0x00]))],
 *   (error) => error instanceof ProtocolError && error.code === "empty_frame" && error.offset === 0,
 * );
 * ```
 */
export class ProtocolError extends Error {
  /** Why the input was refused. */
  readonly code: ProtocolErrorCode;
  /** The byte offset where the fault was found, when it is known. */
  readonly offset: number | undefined;

  /**
   * Creates a protocol error.
   *
   * @param code Why the input was refused.
   * @param message A sentence for people; programs read `code`.
   * @param options The offset and cause.
   */
  constructor(code: ProtocolErrorCode, message: string, options: ProtocolErrorOptions = {}) {
    const where = options.offset === undefined ? "" : ` (at byte ${options.offset})`;
    super(message + where, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ProtocolError";
    this.code = code;
    this.offset = options.offset;
  }
}

/**
 * Which limit a peer went over (docs/SECURITY.md lists each one, its option and default):
 * - `connections`: the server's connections in total (`maxConnections`);
 * - `connections_per_address`: connections from one remote address (`maxConnectionsPerAddress`);
 * - `handshake_timeout`: no connect within the handshake timeout (`handshakeTimeout`);
 * - `namespaces`: namespaces open on one connection (`maxNamespaces`);
 * - `rooms`: rooms one socket asked to be in (`maxRoomsPerSocket`);
 * - `rooms_created`: rooms one socket created that still exist (`rooms.maxCreatedPerSocket`);
 * - `namespace_rooms`: rooms in one namespace (`rooms.maxRooms`);
 * - `event_name_length`: an event name's length in UTF-8 bytes (`maxEventNameLength`);
 * - `frame_size`: a frame's size (`maxFrameSize`);
 * - `pending_acks`: a socket's events awaiting their handlers' replies (`maxPendingAcks`);
 * - `rate`: frames or bytes a second (`rateLimit`).
 *
 * It travels in the `limit` field of an `Error` frame.
 */
export type LimitName =
  | "connections"
  | "connections_per_address"
  | "handshake_timeout"
  | "namespaces"
  | "rooms"
  | "rooms_created"
  | "namespace_rooms"
  | "event_name_length"
  | "frame_size"
  | "pending_acks"
  | "rate";

/** Every {@linkcode LimitName}, for validating one that arrived over the wire. */
export const LIMIT_NAMES: ReadonlySet<string> = new Set<LimitName>([
  "connections",
  "connections_per_address",
  "handshake_timeout",
  "namespaces",
  "rooms",
  "rooms_created",
  "namespace_rooms",
  "event_name_length",
  "frame_size",
  "pending_acks",
  "rate",
]);

/**
 * A peer went over one of the limits that keep one client from taking a server (or its other
 * players) down. The receiver refuses what went over, or closes the connection with the
 * disconnect reason `limit exceeded`; which one, for each limit, is in docs/SECURITY.md.
 *
 * It is a {@linkcode ProtocolError} with the code `limit_exceeded`, so a transport closes the
 * connection when a frame handler throws it; tell it apart with `instanceof` and read `limit`.
 *
 * @example
 * ```ts
 * import { LimitExceededError, ProtocolError } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const error = new LimitExceededError("rate", 1000, "Over 1000 frames a second");
 * assert.ok(error instanceof ProtocolError);
 * assert.equal(error.code, "limit_exceeded");
 * assert.equal(error.limit, "rate");
 * ```
 */
export class LimitExceededError extends ProtocolError {
  /** Which limit. */
  readonly limit: LimitName;
  /** The limit's value (a count, bytes, milliseconds, or per second), when the receiver said. */
  readonly max: number | undefined;

  /**
   * Creates the error.
   *
   * @param limit Which limit.
   * @param max The limit's value, if known.
   * @param message A sentence for people; programs read `limit`.
   * @param options The underlying cause, if any.
   */
  constructor(
    limit: LimitName,
    max: number | undefined,
    message: string,
    options: ProtocolErrorOptions = {},
  ) {
    super("limit_exceeded", message, options);
    this.name = "LimitExceededError";
    this.limit = limit;
    this.max = max;
  }
}

/**
 * A schema registry was asked to hold two different schemas under one code and version.
 *
 * @example
 * ```ts
 * import { defineSchema, SchemaConflictError, SchemaRegistry } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const a = defineSchema({ name: "A", code: 1, version: 0, fields: {} });
 * const b = defineSchema({ name: "B", code: 1, version: 0, fields: {} });
 * assert.throws(() => new SchemaRegistry([a, b]), SchemaConflictError);
 * ```
 */
export class SchemaConflictError extends Error {
  /** The code both schemas claim. */
  readonly code: number;
  /** The version both schemas claim. */
  readonly version: number;

  /**
   * Creates the error.
   *
   * @param code The code both schemas claim.
   * @param version The version both schemas claim.
   * @param message A sentence for people.
   */
  constructor(code: number, version: number, message: string) {
    super(message);
    this.name = "SchemaConflictError";
    this.code = code;
    this.version = version;
  }
}
