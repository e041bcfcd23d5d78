/**
 * The errors of the socket layer. Each is its own class with a `name`, so callers tell them apart
 * with `instanceof` (or by `name`), never by parsing messages. Bad bytes from the network are
 * `ProtocolError`s, from `protocol/`.
 *
 * @module
 */

import type { LimitName } from "../protocol/mod.ts";

/**
 * Why a connect was refused, on the client:
 * - the server's refusals: `invalid_namespace`, `already_connected`, `protocol_mismatch`,
 *   `schema_mismatch`, `unauthorized` (its middleware said no; the message is its reason),
 *   `limit_exceeded` (too many connections, from this address, or namespaces on this connection:
 *   the error's `cause` is a `LimitExceededError` naming the limit), `protocol_violation`;
 * - `timeout`: no handshake within the connect timeout;
 * - `transport`: the connection could not be made, or closed before the handshake;
 * - `closed`: the client was closed.
 */
export type ConnectErrorCode =
  | "invalid_namespace"
  | "already_connected"
  | "protocol_mismatch"
  | "schema_mismatch"
  | "unauthorized"
  | "limit_exceeded"
  | "protocol_violation"
  | "timeout"
  | "transport"
  | "closed";

/** A connect (of the connection, or of one namespace) failed. */
export class ConnectError extends Error {
  /** Why. */
  readonly code: ConnectErrorCode;
  /** The namespace that was being connected. */
  readonly namespace: string;

  /**
   * Creates the error.
   *
   * @param code Why the connect failed.
   * @param namespace The namespace.
   * @param message A sentence for people.
   * @param options The underlying cause, if any.
   */
  constructor(code: ConnectErrorCode, namespace: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectError";
    this.code = code;
    this.namespace = namespace;
  }
}

/** No acknowledgement arrived within the timeout. */
export class AckTimeoutError extends Error {
  /** The event that was not acknowledged. */
  readonly event: string;
  /** The timeout, in milliseconds. */
  readonly timeout: number;

  /**
   * Creates the error.
   *
   * @param event The event.
   * @param timeout The timeout that passed, in milliseconds.
   */
  constructor(event: string, timeout: number) {
    super(`No acknowledgement of "${event}" within ${timeout} ms`);
    this.name = "AckTimeoutError";
    this.event = event;
    this.timeout = timeout;
  }
}

/** The receiver's handler failed (threw, or there was none), and said so in its acknowledgement. */
export class AckError extends Error {
  /** The event whose handler failed. */
  readonly event: string;

  /**
   * Creates the error.
   *
   * @param event The event.
   * @param message The receiver's description of the failure.
   */
  constructor(event: string, message: string) {
    super(message);
    this.name = "AckError";
    this.event = event;
  }
}

/** The socket is disconnected: nothing can be sent, and acknowledgements still awaited are lost. */
export class SocketClosedError extends Error {
  /** The namespace of the socket. */
  readonly namespace: string;

  /**
   * Creates the error.
   *
   * @param namespace The socket's namespace.
   * @param message A sentence for people.
   */
  constructor(namespace: string, message = `The socket of ${namespace} is disconnected`) {
    super(message);
    this.name = "SocketClosedError";
    this.namespace = namespace;
  }
}

/**
 * Why a room request (join or create) was refused:
 * - `not_found`: no such room (and joining does not create rooms in this namespace);
 * - `full`: the room is at capacity;
 * - `wrong_key`: the room needs a key, and this was not it;
 * - `already_member`: the socket is in the room already;
 * - `refused`: the server's hook said no (joining another socket's own room is always refused);
 * - `exists`: a room of that name exists already (creating);
 * - `invalid`: an option is out of range (capacity, metadata, name or player name, grace period);
 * - `limit_exceeded`: one of the server's limits, named by `limit` (`rooms`, `rooms_created`,
 *   `namespace_rooms`);
 * - `timeout`: no answer in time.
 */
export type JoinErrorCode =
  | "not_found"
  | "full"
  | "wrong_key"
  | "already_member"
  | "refused"
  | "exists"
  | "invalid"
  | "limit_exceeded"
  | "timeout";

/**
 * A room request (join or create) was refused, and nothing changed: the socket is in the rooms it
 * was in before.
 */
export class JoinError extends Error {
  /** Why. */
  readonly code: JoinErrorCode;
  /** The room. */
  readonly room: string;
  /** The limit crossed, when `code` is `limit_exceeded`. */
  readonly limit: LimitName | undefined;

  /**
   * Creates the error.
   *
   * @param code Why the request was refused.
   * @param room The room.
   * @param message A sentence for people.
   * @param limit The limit crossed, for `limit_exceeded`.
   */
  constructor(code: JoinErrorCode, room: string, message: string, limit?: LimitName) {
    super(message);
    this.name = "JoinError";
    this.code = code;
    this.room = room;
    this.limit = limit;
  }
}

/**
 * A message sent `unreliable` or `sequenced` does not fit in one datagram, and the emit's
 * `fallback` is `none` (with `tcp`, it travels over TCP instead).
 */
export class DatagramTooLargeError extends RangeError {
  /** The frames' size in bytes. */
  readonly size: number;
  /** The most bytes of frames a datagram carries (`maxDatagramSize` less 25 bytes). */
  readonly limit: number;

  /**
   * Creates the error.
   *
   * @param size The frames' size.
   * @param limit The most a datagram carries.
   */
  constructor(size: number, limit: number) {
    super(`A datagram carries at most ${limit} bytes of frames; this message needs ${size}`);
    this.name = "DatagramTooLargeError";
    this.size = size;
    this.limit = limit;
  }
}

/**
 * An emit while the client reconnects found its offline queue full (`offlineQueue` option):
 * the event was not kept. Volatile emits are dropped instead, without an error.
 */
export class OfflineQueueFullError extends Error {
  /** The namespace of the socket that emitted. */
  readonly namespace: string;

  /**
   * Creates the error.
   *
   * @param namespace The socket's namespace.
   * @param limit The queue's limit, for the message.
   */
  constructor(namespace: string, limit: string) {
    super(`The client is reconnecting and its offline queue is full (${limit})`);
    this.name = "OfflineQueueFullError";
    this.namespace = namespace;
  }
}
