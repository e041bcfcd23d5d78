/**
 * What the server's parts (connections, namespaces, sockets) share: the options, the one timer
 * queue, the event name table and the error report. The server implements it.
 *
 * @module
 */

import type { AckIds } from "../session/ack_tracker.ts";
import type { DisconnectReason } from "../session/disconnect_reason.ts";
import type { OutgoingEventNames } from "../session/event_names.ts";
import type { SocketLink } from "../session/socket_base.ts";
import type { TimerQueue } from "../session/timer_queue.ts";
import type { TransportAddress } from "../transport/transport.ts";
import type { Namespace } from "./namespace.ts";
import type { ServerConnection } from "./server_connection.ts";
import type { ResolvedServerOptions } from "./server_options.ts";
import type { ServerSocket } from "./server_socket.ts";
import type { ServerUdp, ServerUdpStats } from "./server_udp.ts";

/** A socket of any event maps, as the server's parts handle them. */
// deno-lint-ignore no-explicit-any
export type AnyServerSocket = ServerSocket<any, any, any>;
/** A namespace of any event maps, as the server's parts handle them. */
// deno-lint-ignore no-explicit-any
export type AnyNamespace = Namespace<any, any, any>;

/** Counters of the whole server. */
export interface ServerStats {
  /** Connections open now. */
  connections: number;
  /** Connections accepted since `listen()`. */
  accepted: number;
  /** Connections turned away at accept: `maxConnections` or `maxConnectionsPerAddress` was reached. */
  refused: number;
  /** Frames dropped by the inbound rate limit (policy `drop`), on every connection. */
  rateLimited: number;
  /** Event and message frames encoded (a broadcast encodes its frame once, for all recipients). */
  framesEncoded: number;
  /** Bytes read from every connection since `listen()`. */
  bytesIn: number;
  /** Bytes written to every connection since `listen()` (TLS records included). */
  bytesOut: number;
  /** The UDP socket's counters, when the server has a UDP channel. */
  udp?: ServerUdpStats;
}

/** The server's internals, as its parts see them. */
export interface ServerCore {
  /** The options, defaults filled in. */
  readonly options: ResolvedServerOptions;
  /** The one table of event names the server sends, shared by all connections. */
  readonly eventNames: OutgoingEventNames;
  /** Ack ids, unique across the server so a broadcast's frame can carry one for everyone. */
  readonly ackIds: AckIds;
  /** The one timer queue: heartbeats, deadlines, ack timeouts. */
  readonly timers: TimerQueue;
  /** The server's counters. */
  readonly stats: ServerStats;
  /** What every server socket needs from the server: one object for all of them. */
  readonly socketLink: SocketLink;
  /** The UDP channel, once listening, when the server has one. */
  readonly udp: ServerUdp | undefined;
  /**
   * A connection's UDP address was proven by a hello.
   *
   * @param connection The connection.
   * @param address Its UDP address.
   * @param rebound Whether the address replaced another (NAT rebinding).
   */
  udpBound(connection: ServerConnection, address: TransportAddress, rebound: boolean): void;
  /**
   * The namespace of a name, creating a dynamic one when a pattern allows it.
   *
   * @returns The namespace, or `undefined` when there is none.
   */
  namespaceFor(name: string): AnyNamespace | undefined;
  /** A dynamic namespace lost its last socket. */
  namespaceEmptied(nsp: AnyNamespace): void;
  /** Reports an error that has no better place to go. */
  reportError(error: unknown): void;
  /** A connection completed its first connect. */
  connectionOpened(connection: ServerConnection): void;
  /** A connection closed and released its resources. */
  connectionClosed(connection: ServerConnection, reason: DisconnectReason, error?: Error): void;
  /**
   * A connection's client dropped and its session waits for it, within the recovery window.
   *
   * @param session The connection (its session).
   * @param id The session id.
   * @param token The recovery token the client holds, as text.
   */
  keepSession(session: ServerConnection, id: string, token: string): void;
  /**
   * A new connection asks to resume a session.
   *
   * @returns The session, when the token is its own, its window has not passed and it still
   *   keeps every frame the client lacks; else `undefined` (the client gets a fresh session).
   */
  claimSession(id: string, token: Uint8Array, received: number): ServerConnection | undefined;
  /** A new connection handed itself over to the session it resumed. */
  connectionResumed(connection: ServerConnection, session: ServerConnection): void;
  /** A connection asked for a recoverable session and got one. */
  sessionOpened(session: ServerConnection): void;
  /** A session ended (closed, or expired): it can no longer be resumed or taken over. */
  forgetSession(session: ServerConnection): void;
  /** A session ended without its client's return. */
  sessionExpired(session: ServerConnection): void;
}
