/**
 * The client's public types: connect options, events, state.
 *
 * @module
 */

import type { Schema, SchemaRegistry } from "../protocol/mod.ts";
import type { DisconnectReason } from "../session/disconnect_reason.ts";
import type { JsonValue } from "../session/payload.ts";
import type { ClientSocket, HandshakeInfo } from "./client_socket.ts";
import type { UdpState } from "./client_udp.ts";

/** Options of a connect: to the server, or to one namespace. */
export interface ConnectOptions {
  /** Credentials for the server (a JSON value), which it reads as `socket.handshake.auth`. */
  auth?: JsonValue;
}

/** Options of `client.of(namespace, options)`. */
export interface NamespaceConnectOptions extends ConnectOptions {
  /**
   * The application's schemas in this namespace, when the server gives it a set of its own
   * (`server.of(name, { schemas })`). Its fingerprint is sent with the connect.
   *
   * @default {the client's `schemas` option}
   */
  schemas?: SchemaRegistry | Iterable<Schema<object>>;
}

/** The round trips a pong measured, in milliseconds. */
export interface PongInfo {
  /** This round trip. */
  readonly rtt: number;
  /** The smoothed round trip. */
  readonly smoothedRtt: number;
}

/** The events of a {@linkcode GameSocketClient}. */
export interface GameSocketClientEvents {
  /** The connection (and its TLS handshake) is up; the handshake of `/` follows. */
  open: () => void;
  /** A namespace's handshake arrived. */
  // deno-lint-ignore no-explicit-any
  handshake: (socket: ClientSocket<any, any>, info: HandshakeInfo) => void;
  /** The server pinged; a pong went back. */
  ping: () => void;
  /** A pong answered this client's ping. */
  pong: (info: PongInfo) => void;
  /**
   * The UDP path changed state: `open` when the server answered a hello (unreliable emits now
   * go by UDP), `binding` when it went quiet, `failed` when it never answered.
   */
  udp_state: (state: UdpState) => void;
  /** A reconnection attempt starts (the first is 1). */
  reconnect_attempt: (attempt: number) => void;
  /** A reconnection attempt failed. */
  reconnect_error: (error: unknown) => void;
  /**
   * The client is back: `recovered` when the server resumed its session (same socket ids, rooms,
   * and every reliable frame sent meanwhile, both ways), else a fresh session, in which every
   * namespace connects again (and, with `rejoinRooms`, every room is joined again).
   */
  reconnect: (info: ReconnectInfo) => void;
  /** Every reconnection attempt allowed failed; the client closes. */
  reconnect_failed: () => void;
  /**
   * The session could not be resumed (its recovery window passed, the server restarted, or it
   * could not keep every frame): the client continues in a fresh session.
   */
  session_expired: () => void;
  /** The connection closed; every socket disconnected with the same reason. */
  close: (reason: DisconnectReason) => void;
  /** Something failed: a handler without an `error` listener of its own, the connection. */
  error: (error: unknown) => void;
}

/** The names of the client's events. */
export const CLIENT_EVENTS: ReadonlySet<string> = new Set([
  "open",
  "handshake",
  "ping",
  "pong",
  "udp_state",
  "reconnect_attempt",
  "reconnect_error",
  "reconnect",
  "reconnect_failed",
  "session_expired",
  "close",
  "error",
]);

/** What the client's `reconnect` event tells. */
export interface ReconnectInfo {
  /** Whether the session was resumed (else the client is in a fresh one). */
  readonly recovered: boolean;
  /** The attempts it took. */
  readonly attempts: number;
}

/**
 * The client's state: before `connect`, connecting, open, reconnecting (the connection dropped;
 * emits are kept until the client is back), or closed.
 */
export type ClientState = "idle" | "connecting" | "open" | "reconnecting" | "closed";
