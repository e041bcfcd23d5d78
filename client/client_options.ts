/**
 * The client's options and their defaults.
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
import { checkInteger } from "../session/check_option.ts";
import {
  DEFAULT_READ_BUFFER_SIZE,
  DEFAULT_SEND_QUEUE_LIMIT,
} from "../transport/stream_transport.ts";

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
   * The first size of the read buffer, in bytes; a read that fills it makes it four times
   * larger, up to 64 KiB.
   *
   * @default {512}
   */
  readBufferSize?: number;
}

/**
 * The options with every default filled in (as `client.options` shows them): each field as in
 * {@linkcode GameSocketClientOptions}, `schemas` always a registry, `tls` possibly `undefined`.
 */
export type ResolvedClientOptions =
  & Readonly<Required<Omit<GameSocketClientOptions, "tls" | "schemas">>>
  & { readonly tls: ClientTlsOptions | undefined; readonly schemas: SchemaRegistry };

/**
 * Fills in defaults and checks ranges.
 *
 * @param options What the caller gave.
 * @returns Every option.
 * @throws {RangeError} When a number is out of range.
 */
export function resolveClientOptions(options: GameSocketClientOptions): ResolvedClientOptions {
  return {
    schemas: options.schemas instanceof SchemaRegistry
      ? options.schemas
      : new SchemaRegistry(options.schemas ?? []),
    tls: options.tls,
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
