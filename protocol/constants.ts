/**
 * Protocol constants: the version, frame kinds and limits that both sides agree on.
 *
 * @module
 */

/**
 * The protocol version, carried in the high nibble of every frame's header byte and in the
 * connect and handshake messages. Raised whenever a built-in schema or the frame layout changes
 * (docs/PROTOCOL.md, "Versioning").
 */
export const PROTOCOL_VERSION = 1;

/** The kinds of frame, carried in the low nibble of the header byte. */
export const FrameKind = {
  /** A built-in message of the socket or room layer (schemas in `builtin_schemas.ts`). */
  Control: 0,
  /** An application message: a schema the application registered. */
  Message: 1,
  /** Opaque bytes that are not protocol messages (the original's raw data). */
  Raw: 2,
} as const;

/** One of the values of {@linkcode FrameKind}. */
export type FrameKind = typeof FrameKind[keyof typeof FrameKind];

/** The channel of the root namespace "/": always open on every connection. */
export const ROOT_CHANNEL = 0;

/** The largest channel id a connection may open. */
export const MAX_CHANNEL = 65_535;

/** The default `maxFrameSize`: the largest frame a receiver accepts, in bytes after the prefix. */
export const DEFAULT_MAX_FRAME_SIZE = 65_536;

/** The hard ceiling for any `maxFrameSize` option: 16 MiB. The length prefix never exceeds it. */
export const MAX_FRAME_SIZE_LIMIT = 16 * 1024 * 1024;

/** The most bytes a varint-coded frame length may take (enough for 2^28 - 1). */
export const MAX_LENGTH_PREFIX_BYTES = 4;

/** The most UTF-8 bytes a `string` field may hold. */
export const MAX_STRING_BYTES = 65_535;

/** The most bytes a `bytes` field may hold. */
export const MAX_BYTES_LENGTH = 65_535;

/** The largest field id a schema may use. */
export const MAX_FIELD_ID = 255;

/** The largest schema code (codes are one byte). */
export const MAX_SCHEMA_CODE = 255;

/** The largest schema version (versions are one byte). */
export const MAX_SCHEMA_VERSION = 255;
