/**
 * The client's options and their defaults.
 *
 * @module
 */

import { isIP } from "node:net";
import {
  checkMaxFrameSize,
  DEFAULT_MAX_FRAME_SIZE,
  type Schema,
  SchemaRegistry,
} from "../protocol/mod.ts";
import { DEFAULT_ACK_TIMEOUT } from "../session/ack_tracker.ts";
import { checkInteger, checkMaxDatagramSize, checkReplayWindow } from "../session/check_option.ts";
import {
  type BackoffOptions,
  resolveBackoffOptions,
  type ResolvedBackoffOptions,
} from "../session/backoff.ts";
import type { UdpFallback } from "../session/delivery.ts";
import {
  DEFAULT_READ_BUFFER_SIZE,
  DEFAULT_SEND_QUEUE_LIMIT,
} from "../transport/stream_transport.ts";

/** The client's side of the UDP channel (the `udp` option). Every one has a default. */
export interface ClientUdpOptions {
  /**
   * Milliseconds between hellos while the server has not answered one.
   *
   * @default {250}
   */
  helloInterval?: number;
  /**
   * Hellos sent without an answer before the client gives up on UDP (state `failed`; unreliable
   * emits then fall back per `fallback`).
   *
   * @default {20}
   */
  helloAttempts?: number;
  /**
   * Milliseconds between hellos once the path is open: they keep NAT mappings alive, measure the
   * round trip over UDP, and prove the client's address again after it changed.
   *
   * @default {2000}
   */
  keepaliveInterval?: number;
  /**
   * Milliseconds without an authentic datagram from the server before the path counts as lost
   * (state `binding`; hellos resume).
   *
   * @default {6000}
   */
  timeout?: number;
  /**
   * The largest datagram sent or accepted, header and tag included; keep it equal to the
   * server's.
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
   * What `unreliable` and `sequenced` emits do while the path is not open, or for a message too
   * large for a datagram: `tcp` sends them over TCP, `none` does not. Each emit may say
   * otherwise.
   *
   * @default {"tcp"}
   */
  fallback?: UdpFallback;
}

/** What the client keeps of its emits while it reconnects (the `offlineQueue` option). */
export interface OfflineQueueOptions {
  /**
   * The most emits kept.
   *
   * @default {1000}
   */
  maxFrames?: number;
  /**
   * The most bytes of emits kept.
   *
   * @default {1048576}
   */
  maxBytes?: number;
}

/** The UDP options with every default filled in. */
export type ResolvedClientUdpOptions = Readonly<Required<ClientUdpOptions>>;

/** How the client trusts a TLS server. */
export interface ClientTlsOptions {
  /**
   * Certificates (PEM) of the authorities to trust, in addition to none: give the CA of a
   * self-signed development certificate here. Verification is never turned off.
   *
   * @default {the system's trusted roots}
   */
  caCerts?: string[];
  /**
   * The name to verify the server's certificate against.
   *
   * @default {the host given to connect}
   */
  serverName?: string;
}

/** Options of `GameSocketClient`. Every one has a default. */
export interface GameSocketClientOptions {
  /**
   * The application's schemas; their fingerprint must match the server's.
   *
   * @default {no schemas}
   */
  schemas?: SchemaRegistry | Iterable<Schema<object>>;
  /**
   * Speak TLS (`Deno.startTls` over a TCP connection, so `setNoDelay` still applies).
   *
   * @default {undefined: plain TCP}
   */
  tls?: ClientTlsOptions;
  /**
   * The local IP address to connect from, such as "127.0.0.2" (the connection then opens with
   * `node:net`, since `Deno.connect` cannot choose it). A load generator on one machine spreads
   * its clients over several 127.0.0.x addresses this way, to stay under the server's
   * `maxConnectionsPerAddress`. Plain TCP only: refused together with `tls`. Needs net
   * permission for the address (`--allow-net=127.0.0.0/8` covers every loopback one).
   *
   * @default {undefined: the system chooses}
   */
  localAddress?: string;
  /**
   * Milliseconds to wait for the connection and the handshake of `/` (and of each namespace).
   *
   * @default {10000}
   */
  connectTimeout?: number;
  /**
   * Milliseconds an acknowledgement (or a join) is awaited when the call gives no timeout.
   *
   * @default {10000}
   */
  ackTimeout?: number;
  /**
   * The largest frame accepted from the server, in bytes after the length prefix. A larger one
   * closes the connection with `protocol error`.
   *
   * @default {65536}
   */
  maxFrameSize?: number;
  /**
   * Whether raw frames from the server are delivered as a `raw` event. When off, a raw frame is
   * a protocol error.
   *
   * @default {false}
   */
  allowRaw?: boolean;
  /**
   * Close when the smoothed round trip exceeds this many milliseconds (`high latency`; the
   * original's limitHighPing). 0 turns it off.
   *
   * @default {0}
   */
  maxAverageRtt?: number;
  /**
   * The cap on bytes queued or in flight to the server. Past it, volatile emits are dropped and
   * other emits close the connection with `send queue overflow`.
   *
   * @default {1048576}
   */
  sendQueueLimit?: number;
  /**
   * Milliseconds `close()` waits for queued writes to drain.
   *
   * @default {2000}
   */
  closeTimeout?: number;
  /**
   * Reconnection after a dropped connection: attempts spaced by an exponential backoff with
   * jitter (`firstDelay` 500 ms, `maxDelay` 10 s, `factor` 2, `randomization` 0.5,
   * `maxAttempts` unlimited). With a server that keeps sessions, the client resumes its own:
   * same socket ids, rooms and everything sent meanwhile. `false` closes the client when its
   * connection drops. A `close()` never reconnects, nor does a server's `Disconnect`.
   *
   * @default {true}
   */
  reconnection?: boolean | BackoffOptions;
  /**
   * The emits kept while reconnecting, sent once the session is back; past it, an emit throws
   * (or `emitWithAck` rejects) with `OfflineQueueFullError`. Volatile emits are dropped.
   *
   * @default {{ maxFrames: 1000, maxBytes: 1048576 }}
   */
  offlineQueue?: OfflineQueueOptions;
  /**
   * Whether a client whose session could not be resumed (a fresh session) joins again the rooms
   * its sockets were in, with the key and player name each was joined with.
   *
   * @default {true}
   */
  rejoinRooms?: boolean;
  /**
   * Whether to open the UDP channel when the server offers one (`udp` in the server's options),
   * and how: `false` keeps every emit on TCP.
   *
   * @default {true}
   */
  udp?: boolean | ClientUdpOptions;
  /**
   * The first size of the read buffer, in bytes; a read that fills it makes it four times
   * larger, up to 64 KiB.
   *
   * @default {512}
   */
  readBufferSize?: number;
}

/**
 * The options with every default filled in (as `client.options` shows them): each field as in
 * {@linkcode GameSocketClientOptions}, `schemas` always a registry, `tls` and `localAddress`
 * possibly `undefined`.
 */
export type ResolvedClientOptions =
  & Readonly<
    Required<
      Omit<
        GameSocketClientOptions,
        "tls" | "localAddress" | "schemas" | "udp" | "reconnection" | "offlineQueue"
      >
    >
  >
  & {
    readonly tls: ClientTlsOptions | undefined;
    readonly localAddress: string | undefined;
    readonly schemas: SchemaRegistry;
    readonly udp: ResolvedClientUdpOptions | undefined;
    readonly reconnection: ResolvedBackoffOptions | undefined;
    readonly offlineQueue: Readonly<Required<OfflineQueueOptions>>;
  };

/**
 * Fills in defaults and checks ranges.
 *
 * @param options What the caller gave.
 * @returns Every option.
 * @throws {RangeError} When a number is out of range.
 * @throws {TypeError} When `localAddress` is not an IP address, or is given with `tls`.
 */
export function resolveClientOptions(options: GameSocketClientOptions): ResolvedClientOptions {
  return {
    schemas: options.schemas instanceof SchemaRegistry
      ? options.schemas
      : new SchemaRegistry(options.schemas ?? []),
    tls: options.tls,
    localAddress: checkLocalAddress(options.localAddress, options.tls !== undefined),
    udp: resolveUdpOptions(options.udp),
    reconnection: options.reconnection === false
      ? undefined
      : resolveBackoffOptions(options.reconnection === true ? {} : options.reconnection),
    offlineQueue: {
      maxFrames: checkInteger("offlineQueue.maxFrames", options.offlineQueue?.maxFrames ?? 1000, 0),
      maxBytes: checkInteger(
        "offlineQueue.maxBytes",
        options.offlineQueue?.maxBytes ?? 1024 * 1024,
        0,
      ),
    },
    rejoinRooms: options.rejoinRooms ?? true,
    connectTimeout: checkInteger("connectTimeout", options.connectTimeout ?? 10000, 1),
    ackTimeout: checkInteger("ackTimeout", options.ackTimeout ?? DEFAULT_ACK_TIMEOUT, 1),
    maxFrameSize: checkMaxFrameSize(options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE),
    allowRaw: options.allowRaw ?? false,
    maxAverageRtt: checkInteger("maxAverageRtt", options.maxAverageRtt ?? 0, 0),
    sendQueueLimit: checkInteger(
      "sendQueueLimit",
      options.sendQueueLimit ?? DEFAULT_SEND_QUEUE_LIMIT,
      1,
    ),
    closeTimeout: checkInteger("closeTimeout", options.closeTimeout ?? 2000, 0),
    readBufferSize: checkInteger(
      "readBufferSize",
      options.readBufferSize ?? DEFAULT_READ_BUFFER_SIZE,
      16,
    ),
  };
}

function checkLocalAddress(address: string | undefined, tls: boolean): string | undefined {
  if (address === undefined) return undefined;
  if (typeof address !== "string" || isIP(address) === 0) {
    throw new TypeError(`localAddress must be an IP address, got ${JSON.stringify(address)}`);
  }
  // Deno.startTls takes a Deno.TcpConn only, not a node:net socket.
  if (tls) throw new TypeError("localAddress works over plain TCP only, not with tls");
  return address;
}

function resolveUdpOptions(
  udp: boolean | ClientUdpOptions | undefined,
): ResolvedClientUdpOptions | undefined {
  if (udp === false) return undefined;
  const options = udp === undefined || udp === true ? {} : udp;
  const fallback = options.fallback ?? "tcp";
  if (fallback !== "tcp" && fallback !== "none") {
    throw new RangeError(`udp.fallback must be "tcp" or "none", got ${String(fallback)}`);
  }
  return {
    helloInterval: checkInteger("udp.helloInterval", options.helloInterval ?? 250, 1),
    helloAttempts: checkInteger("udp.helloAttempts", options.helloAttempts ?? 20, 1),
    keepaliveInterval: checkInteger("udp.keepaliveInterval", options.keepaliveInterval ?? 2000, 1),
    timeout: checkInteger("udp.timeout", options.timeout ?? 6000, 1),
    maxDatagramSize: checkMaxDatagramSize(options.maxDatagramSize),
    replayWindow: checkReplayWindow(options.replayWindow),
    fallback,
  };
}
