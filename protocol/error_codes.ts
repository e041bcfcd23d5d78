/**
 * The codes carried by `Error` and `RoomJoinError` frames.
 *
 * @module
 */

/** Codes of refusals the server sends. Codes 1 and 2 keep the original's numbers. */
export const ErrorCode = {
  /** The namespace does not exist on this server. */
  InvalidNamespace: 1,
  /** The namespace is already connected on this connection. */
  AlreadyConnected: 2,
  /** The client speaks another protocol version. */
  ProtocolMismatch: 3,
  /** The client was built with another set of application schemas (fingerprint differs). */
  SchemaMismatch: 4,
  /** The server refused the client's credentials. */
  Unauthorized: 5,
  /** The client broke the protocol; the connection closes. */
  ProtocolViolation: 6,
  /** The server's join hook refused the join. */
  JoinRefused: 7,
  /** The room is at capacity. */
  RoomFull: 8,
  /** The room's key did not match. */
  WrongKey: 9,
  /** The room does not exist (where joining does not create it). */
  RoomNotFound: 10,
  /** A room of that name exists already. */
  RoomExists: 11,
  /**
   * The client went over one of the server's limits; the frame's `limit` says which. A refused
   * namespace connect or room join leaves the connection open; otherwise it closes.
   */
  LimitExceeded: 12,
  /** A room request's options are out of range (capacity, metadata, name, grace period). */
  InvalidRoomOptions: 13,
  /** The socket is in the room already. */
  AlreadyMember: 14,
} as const;

/** One of the values of {@linkcode ErrorCode}. */
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];
