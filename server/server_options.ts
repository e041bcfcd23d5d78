/**
 * The server's options and their defaults.
 *
 * @module
 */

import {
  checkMaxFrameSize,
  DEFAULT_MAX_FRAME_SIZE,
  type Schema,
  SchemaRegistry,
} from "../protocol/mod.ts";
import { DEFAULT_ACK_TIMEOUT } from "../session/ack_tracker.ts";
import { checkInteger, checkMaxDatagramSize, checkReplayWindow } from "../session/check_option.ts";
import type { UdpFallback } from "../session/delivery.ts";
import { randomSocketId } from "../session/socket_id.ts";
import {
  DEFAULT_READ_BUFFER_SIZE,
  DEFAULT_SEND_QUEUE_LIMIT,
} from "../transport/stream_transport.ts";
import type { AdapterFactory } from "./adapter.ts";
import { InMemoryAdapter } from "./in_memory_adapter.ts";
import {
  type ResolvedRoomPolicy,
  resolveRoomPolicy,
  type RoomPolicyOptions,
} from "./room_policy.ts";

/** The port the server listens on by default, as the original did. */
export const DEFAULT_PORT = 3103;

/** A certificate chain and its private key, both PEM. */
export interface TlsOptions {
  /** The certificate chain, PEM. */
  readonly cert: string;
  /** The private key, PEM. */
  readonly key: string;
}

/** The server's UDP channel (the `udp` option). Every one has a default. */
export interface UdpServerOptions {
  /**
   * The UDP port. By default the TCP port's number, announced to clients as "the port number
   * of the TCP port you reached", so a relay in front of the server can carry UDP too; when
   * that number is taken and the TCP port was chosen freely (`port: 0`), any free port,
   * announced as itself.
   *
   * @default {the TCP port's number}
   */
  port?: number;
  /**
   * The port announced to clients, when they reach the UDP socket at another port than the one
   * it is bound to (a port mapping in a NAT or load balancer, a relay).
   *
   * @default {the bound port (announced as "the same port" when it has the TCP port's number)}
   */
  publicPort?: number;
  /**
   * The address to bind.
   *
   * @default {the server's `hostname`}
   */
  hostname?: string;
  /**
   * The largest datagram sent or accepted, in bytes of UDP payload including the 25 bytes of
   * header and tag. Larger datagrams are dropped (`oversized`); larger messages fall back to
   * TCP or fail, per `fallback`.
   *
   * @default {1200}
   */
  maxDatagramSize?: number;
  /**
   * How many sequence numbers behind the newest a datagram may be and still be accepted once
   * (a multiple of 32).
   *
   * @default {1024}
   */
  replayWindow?: number;
  /**
   * What `unreliable` and `sequenced` emits do when a client has no UDP path (not bound, or a
   * client without UDP) or the message does not fit a datagram: `tcp` sends them over TCP,
   * `none` does not send them. Each emit may say otherwise.
   *
   * @default {"tcp"}
   */
  fallback?: UdpFallback;
}

/** The UDP options with every default filled in; `port` undefined means the TCP port's number. */
export interface ResolvedUdpOptions {
  /** The UDP port, or `undefined` for the TCP port's number. */
  readonly port: number | undefined;
  /** The port announced, or `undefined` for the bound one. */
  readonly publicPort: number | undefined;
  /** The address to bind, or `undefined` for the server's. */
  readonly hostname: string | undefined;
  /** The largest datagram. */
  readonly maxDatagramSize: number;
  /** The replay window. */
  readonly replayWindow: number;
  /** The default fallback. */
  readonly fallback: UdpFallback;
}

/** Session recovery (the `recovery` option). Every one has a default. */
export interface RecoveryOptions {
  /**
   * Milliseconds a session is kept after its connection dropped, for its client to come back
   * with its recovery token.
   *
   * @default {30000}
   */
  window?: number;
  /**
   * The most frames sent to a session and not yet confirmed by its client that are kept for
   * replay; past it (or `maxBytes`), the session can no longer be recovered.
   *
   * @default {4096}
   */
  maxFrames?: number;
  /**
   * The most bytes of such frames kept. Broadcast frames are shared, not copied, but count for
   * each session.
   *
   * @default {1048576}
   */
  maxBytes?: number;
  /**
   * Whether a session waiting for its client keeps its rooms (so it misses nothing sent to them).
   *
   * @default {true}
   */
  keepRooms?: boolean;
}

/**
 * The inbound rate limit of each connection (the `rateLimit` option): two token buckets, one of
 * frames and one of bytes, shared by the connection's namespaces (and its UDP datagrams' frames).
 * Every one has a default.
 */
export interface RateLimitOptions {
  /**
   * Frames a second, sustained.
   *
   * @default {1000}
   */
  frames?: number;
  /**
   * The most frames in a burst after a quiet spell.
   *
   * @default {twice `frames`}
   */
  frameBurst?: number;
  /**
   * Bytes of frames a second, sustained.
   *
   * @default {262144}
   */
  bytes?: number;
  /**
   * The most bytes in a burst after a quiet spell (at least `maxFrameSize`, or frames that large
   * would never pass).
   *
   * @default {twice `bytes`, and at least `maxFrameSize`}
   */
  byteBurst?: number;
  /**
   * What happens to a frame over the limit: `drop` drops it and counts it (`stats.rateLimited`;
   * pongs, event name declarations, session acks and disconnects are never dropped), and
   * `disconnect` closes the connection with `limit exceeded`.
   *
   * @default {"drop"}
   */
  policy?: RateLimitPolicy;
}

/** What happens to a frame over the rate limit. */
export type RateLimitPolicy = "drop" | "disconnect";

/** The rate limit with every default filled in. */
export type ResolvedRateLimit = Readonly<Required<RateLimitOptions>>;

/** The recovery options with every default filled in. */
export type ResolvedRecoveryOptions = Readonly<Required<RecoveryOptions>>;

/** Options of `GameSocketServer`. Every one has a default. */
export interface GameSocketServerOptions {
  /**
   * The TCP port; 0 picks a free one (read it from `listen()`'s result).
   *
   * @default {3103}
   */
  port?: number;
  /**
   * The address to listen on.
   *
   * @default {"0.0.0.0"}
   */
  hostname?: string;
  /**
   * Session recovery: a client whose connection drops can come back within the window and find
   * its sockets, rooms and `data` as they were, with every reliable frame sent meanwhile. `false`
   * turns it off (a dropped connection ends its sessions at once).
   *
   * @default {true (the defaults of RecoveryOptions)}
   */
  recovery?: boolean | RecoveryOptions;
  /**
   * A UDP channel beside TCP, for `unreliable` and `sequenced` emits: `true` for the defaults,
   * or its options. Clients learn its port and their session key in the handshake.
   *
   * @default {false}
   */
  udp?: boolean | UdpServerOptions;
  /**
   * A certificate and key: the server then speaks TLS only (`Deno.listenTls`).
   *
   * @default {undefined}
   */
  tls?: TlsOptions;
  /**
   * The application's schemas: message payloads and message frames resolve against them, and
   * their fingerprint must match the client's.
   *
   * @default {no schemas}
   */
  schemas?: SchemaRegistry | Iterable<Schema<object>>;
  /**
   * The largest frame accepted, in bytes after the length prefix (at most 16 MiB). Announced in
   * the handshake; a larger length prefix closes the connection with `limit exceeded` (limit
   * `frame_size`) before anything of the frame is buffered.
   *
   * @default {65536}
   */
  maxFrameSize?: number;
  /**
   * Milliseconds between heartbeats (pings) to each connection. Announced in the handshake.
   *
   * @default {5000}
   */
  heartbeatInterval?: number;
  /**
   * Milliseconds without hearing anything from a connection before it is closed with
   * `heartbeat timeout`. Announced in the handshake.
   *
   * @default {15000}
   */
  heartbeatTimeout?: number;
  /**
   * Milliseconds without an event, message or room request from a connection before it is
   * closed with `idle timeout`; heartbeats do not count. 0 turns it off.
   *
   * @default {0}
   */
  idleTimeout?: number;
  /**
   * Milliseconds a new connection has to send its connect, and have it through the server's
   * middleware, before it is closed with `handshake timeout` (the server reports a
   * `LimitExceededError`, limit `handshake_timeout`).
   *
   * @default {10000}
   */
  handshakeTimeout?: number;
  /**
   * Whether raw frames are delivered as a `raw` event on the socket of their channel (the
   * original's supportRawData). When off, a raw frame is a protocol error.
   *
   * @default {false}
   */
  allowRaw?: boolean;
  /**
   * Whether a socket whose event handler throws is disconnected (`server disconnect`). Either
   * way the error is reported on the `error` events. Protocol errors always close the connection.
   *
   * @default {false}
   */
  closeOnError?: boolean;
  /**
   * Whether clients are told of room changes they did not ask for: `RoomJoined`/`RoomLeft` when
   * the server moves their socket, and `MemberEntered`/`MemberLeft` when others come and go.
   * Replies to a client's own join and leave requests are always sent.
   *
   * @default {true}
   */
  sendRoomEvents?: boolean;
  /**
   * The most connections at once; more are refused as soon as they are accepted: they are sent
   * an `Error` (`LimitExceeded`, limit `connections`) and closed, and the client's connect fails
   * with `limit_exceeded`.
   *
   * @default {10000}
   */
  maxConnections?: number;
  /**
   * The most connections at once from one remote address (IP address; sessions waiting for their
   * client do not count). More are refused as with `maxConnections` (limit
   * `connections_per_address`). Behind a proxy that connects on the players' behalf, every
   * connection comes from the proxy: raise it to `maxConnections`.
   *
   * @default {256}
   */
  maxConnectionsPerAddress?: number;
  /**
   * The most namespaces one connection may have open (or being connected), `/` included. A
   * connect past it is refused (`LimitExceeded`, limit `namespaces`); the connection stays.
   *
   * @default {32}
   */
  maxNamespaces?: number;
  /**
   * The most rooms a client may ask one socket to be in, its own room not counted. A join request
   * past it is refused (the client's `join` rejects with `JoinError` `limit_exceeded`); the
   * connection stays. Joins made by the server's code are not limited.
   *
   * @default {128}
   */
  maxRoomsPerSocket?: number;
  /**
   * The rooms policy of every namespace (each may set its own with `server.of(name, { rooms })`):
   * whether joining creates rooms (`creation`), and the limits on clients' room requests. See
   * {@linkcode RoomPolicyOptions} for each field's default.
   *
   * @default {{creation: "join", maxCreatedPerSocket: 16, maxRooms: 10000, maxCapacity: 1000, maxMetadataSize: 1024, maxEmptyTimeout: 600000, maxNameLength: 64, maxPlayerLength: 32, listingInterval: 100}}
   */
  rooms?: RoomPolicyOptions;
  /**
   * The longest event name a client may declare, in UTF-8 bytes. A longer one closes the
   * connection with `limit exceeded` (limit `event_name_length`).
   *
   * @default {128}
   */
  maxEventNameLength?: number;
  /**
   * The most events with an acknowledgement one socket may have waiting for their handlers'
   * replies (async handlers still running). One more closes the connection with `limit exceeded`
   * (limit `pending_acks`).
   *
   * @default {256}
   */
  maxPendingAcks?: number;
  /**
   * The inbound rate limit of each connection: frames and bytes a second, with bursts, and what
   * happens over it. `false` turns it off.
   *
   * @default {true (the defaults of RateLimitOptions)}
   */
  rateLimit?: boolean | RateLimitOptions;
  /**
   * Refuses to build a server without `tls`: set it where plain TCP must never be served, so a
   * configuration that lost its certificate fails at start rather than serving in the clear.
   *
   * @default {false}
   */
  requireTls?: boolean;
  /**
   * The cap on bytes queued or in flight to one connection (all its namespaces). Past it,
   * volatile emits are dropped and counted, and other emits disconnect the connection with
   * `send queue overflow`.
   *
   * @default {1048576}
   */
  sendQueueLimit?: number;
  /**
   * A send tick, in milliseconds: when above 0, frames queued for any connection wait for the
   * next tick (shared by every connection, one timer) and leave together, one write per
   * connection per tick. Fewer, larger writes cost less CPU per message under load, at up to one
   * tick of added latency. 0 writes at the end of the event-loop tick that queued the frames.
   *
   * @default {0}
   */
  sendTick?: number;
  /**
   * Milliseconds an acknowledgement is awaited when the emit gives no timeout.
   *
   * @default {10000}
   */
  ackTimeout?: number;
  /**
   * Disconnect a connection whose smoothed round trip exceeds this many milliseconds (the
   * original's limitHighPing), with `high latency`. 0 turns it off.
   *
   * @default {0}
   */
  maxAverageRtt?: number;
  /**
   * Milliseconds `close()` waits for queued writes to drain before it cuts connections.
   *
   * @default {2000}
   */
  closeTimeout?: number;
  /**
   * The first size of each connection's read buffer, in bytes; a read that fills it makes it
   * four times larger, up to 64 KiB.
   *
   * @default {512}
   */
  readBufferSize?: number;
  /**
   * Makes socket ids. Ids must be unique and unguessable; tests inject fixed ones.
   *
   * @default {128 random bits as 22 base64url characters}
   */
  generateId?: () => string;
  /**
   * Makes each namespace's adapter (room membership and fan-out).
   *
   * @default {an in-memory adapter}
   */
  adapter?: AdapterFactory;
}

/**
 * The options with every default filled in (as `server.options` shows them): each field as in
 * {@linkcode GameSocketServerOptions}, `schemas` always a registry, `tls` possibly `undefined`.
 */
export type ResolvedServerOptions =
  & Readonly<
    Required<
      Omit<GameSocketServerOptions, "tls" | "schemas" | "udp" | "recovery" | "rateLimit" | "rooms">
    >
  >
  & {
    readonly tls: TlsOptions | undefined;
    readonly rateLimit: ResolvedRateLimit | undefined;
    readonly rooms: ResolvedRoomPolicy;
    readonly schemas: SchemaRegistry;
    readonly udp: ResolvedUdpOptions | undefined;
    readonly recovery: ResolvedRecoveryOptions | undefined;
  };

/**
 * Fills in defaults and checks ranges.
 *
 * @param options What the caller gave.
 * @returns Every option.
 * @throws {RangeError} When a number is out of range.
 * @throws {TypeError} When `requireTls` is set without `tls`.
 */
export function resolveServerOptions(options: GameSocketServerOptions): ResolvedServerOptions {
  const requireTls = options.requireTls ?? false;
  if (requireTls && options.tls === undefined) {
    throw new TypeError("requireTls is set but no tls certificate and key are given");
  }
  const maxFrameSize = checkMaxFrameSize(options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE);
  const schemas = options.schemas instanceof SchemaRegistry
    ? options.schemas
    : new SchemaRegistry(options.schemas ?? []);
  return {
    port: checkInteger("port", options.port ?? DEFAULT_PORT, 0, 65535),
    hostname: options.hostname ?? "0.0.0.0",
    tls: options.tls,
    udp: resolveUdpOptions(options.udp),
    recovery: resolveRecoveryOptions(options.recovery),
    schemas,
    maxFrameSize,
    heartbeatInterval: checkInteger("heartbeatInterval", options.heartbeatInterval ?? 5000, 1),
    heartbeatTimeout: checkInteger("heartbeatTimeout", options.heartbeatTimeout ?? 15000, 1),
    idleTimeout: checkInteger("idleTimeout", options.idleTimeout ?? 0, 0),
    handshakeTimeout: checkInteger("handshakeTimeout", options.handshakeTimeout ?? 10000, 1),
    allowRaw: options.allowRaw ?? false,
    closeOnError: options.closeOnError ?? false,
    sendRoomEvents: options.sendRoomEvents ?? true,
    maxConnections: checkInteger("maxConnections", options.maxConnections ?? 10000, 1),
    maxConnectionsPerAddress: checkInteger(
      "maxConnectionsPerAddress",
      options.maxConnectionsPerAddress ?? 256,
      1,
    ),
    maxNamespaces: checkInteger("maxNamespaces", options.maxNamespaces ?? 32, 1),
    maxRoomsPerSocket: checkInteger("maxRoomsPerSocket", options.maxRoomsPerSocket ?? 128, 0),
    rooms: resolveRoomPolicy(options.rooms),
    maxEventNameLength: checkInteger(
      "maxEventNameLength",
      options.maxEventNameLength ?? 128,
      1,
      65535,
    ),
    maxPendingAcks: checkInteger("maxPendingAcks", options.maxPendingAcks ?? 256, 1),
    rateLimit: resolveRateLimit(options.rateLimit, maxFrameSize),
    requireTls,
    sendQueueLimit: checkInteger(
      "sendQueueLimit",
      options.sendQueueLimit ?? DEFAULT_SEND_QUEUE_LIMIT,
      1,
    ),
    sendTick: checkInteger("sendTick", options.sendTick ?? 0, 0, 1000),
    ackTimeout: checkInteger("ackTimeout", options.ackTimeout ?? DEFAULT_ACK_TIMEOUT, 1),
    maxAverageRtt: checkInteger("maxAverageRtt", options.maxAverageRtt ?? 0, 0),
    closeTimeout: checkInteger("closeTimeout", options.closeTimeout ?? 2000, 0),
    readBufferSize: checkInteger(
      "readBufferSize",
      options.readBufferSize ?? DEFAULT_READ_BUFFER_SIZE,
      16,
    ),
    generateId: options.generateId ?? randomSocketId,
    adapter: options.adapter ?? ((host) => new InMemoryAdapter(host)),
  };
}

function resolveUdpOptions(
  udp: boolean | UdpServerOptions | undefined,
): ResolvedUdpOptions | undefined {
  if (udp === undefined || udp === false) return undefined;
  const options = udp === true ? {} : udp;
  const fallback = options.fallback ?? "tcp";
  if (fallback !== "tcp" && fallback !== "none") {
    throw new RangeError(`udp.fallback must be "tcp" or "none", got ${String(fallback)}`);
  }
  return {
    port: options.port === undefined ? undefined : checkInteger("udp.port", options.port, 0, 65535),
    publicPort: options.publicPort === undefined
      ? undefined
      : checkInteger("udp.publicPort", options.publicPort, 1, 65535),
    hostname: options.hostname,
    maxDatagramSize: checkMaxDatagramSize(options.maxDatagramSize),
    replayWindow: checkReplayWindow(options.replayWindow),
    fallback,
  };
}

function resolveRecoveryOptions(
  recovery: boolean | RecoveryOptions | undefined,
): ResolvedRecoveryOptions | undefined {
  if (recovery === false) return undefined;
  const options = recovery === undefined || recovery === true ? {} : recovery;
  return {
    window: checkInteger("recovery.window", options.window ?? 30_000, 1),
    maxFrames: checkInteger("recovery.maxFrames", options.maxFrames ?? 4096, 1),
    maxBytes: checkInteger("recovery.maxBytes", options.maxBytes ?? 1024 * 1024, 1),
    keepRooms: options.keepRooms ?? true,
  };
}

function resolveRateLimit(
  rateLimit: boolean | RateLimitOptions | undefined,
  maxFrameSize: number,
): ResolvedRateLimit | undefined {
  if (rateLimit === false) return undefined;
  const options = rateLimit === undefined || rateLimit === true ? {} : rateLimit;
  const policy = options.policy ?? "drop";
  if (policy !== "drop" && policy !== "disconnect") {
    throw new RangeError(`rateLimit.policy must be "drop" or "disconnect", got ${String(policy)}`);
  }
  const frames = checkInteger("rateLimit.frames", options.frames ?? 1000, 1);
  const bytes = checkInteger("rateLimit.bytes", options.bytes ?? 256 * 1024, 1);
  return {
    frames,
    frameBurst: checkInteger("rateLimit.frameBurst", options.frameBurst ?? 2 * frames, 1),
    bytes,
    byteBurst: checkInteger(
      "rateLimit.byteBurst",
      options.byteBurst ?? Math.max(2 * bytes, maxFrameSize),
      maxFrameSize,
    ),
    policy,
  };
}
