/**
 * The transport interface: what the server and the client need from a byte stream. A transport
 * frames outgoing bytes into writes (coalescing what is queued in one tick), decodes incoming
 * frames, counts traffic, and enforces the send-queue cap.
 *
 * @module
 */

import type { Frame, SchemaRegistry } from "../protocol/mod.ts";

/** How long a transport tries to send its last words after a protocol fault, in milliseconds. */
export const LAST_WORDS_TIMEOUT = 500;

/** Where a transport's peer is. */
export interface TransportAddress {
  /** The peer's IP address. */
  readonly hostname: string;
  /** The peer's port. */
  readonly port: number;
}

/**
 * What became of a frame handed to {@linkcode Transport.send}:
 * - `queued`: it will be written;
 * - `dropped`: it was volatile and the send queue was over its cap, so it was discarded;
 * - `overflow`: it was not volatile and the queue was over its cap, so the transport closed;
 * - `closed`: the transport was closed already, so nothing was sent.
 */
export type SendStatus = "queued" | "dropped" | "overflow" | "closed";

/** Traffic counters of a transport. */
export interface TransportStats {
  /** Bytes read from the peer. */
  bytesIn: number;
  /** Bytes written to the peer. */
  bytesOut: number;
  /** Frames decoded from the peer. */
  framesIn: number;
  /** Frames queued for the peer. */
  framesOut: number;
  /** Calls to the stream's `write`: frames queued in one tick leave in one write. */
  writes: number;
  /** Volatile frames dropped because the send queue was over its cap. */
  dropped: number;
  /** The most bytes ever queued or in flight at once. */
  maxQueuedBytes: number;
}

/** Why a transport closed, as seen by its owner. */
export type TransportCloseCause =
  /** The owner called `close()` or `abort()`. */
  | { readonly type: "local" }
  /** The peer ended the stream (or it ended mid-frame). */
  | { readonly type: "eof" }
  /** Reading or writing failed. */
  | { readonly type: "error"; readonly error: Error }
  /** The peer sent bytes that are not valid frames. */
  | { readonly type: "protocol"; readonly error: Error }
  /** A frame that was not volatile met a full send queue. */
  | { readonly type: "overflow" };

/** The callbacks a transport's owner gives it. */
export interface TransportHandler {
  /** Called for every frame, in order. A throw closes the transport as a protocol fault. */
  onFrame(frame: Frame): void;
  /**
   * Called when the peer's bytes broke the protocol, before the transport closes: a frame to
   * send as the last one (telling the peer why), or `undefined`.
   */
  lastWords?(error: Error): Uint8Array | undefined;
  /** Called once, when the transport has closed and released its resources. */
  onClose(cause: TransportCloseCause): void;
  /**
   * The schemas message frames on a channel resolve against, when the transport's options give
   * none per channel: the handler's namespace registry, or `undefined` for the default one.
   */
  schemasOf?(channel: number): SchemaRegistry | undefined;
}

/** A framed, bidirectional byte stream. */
export interface Transport {
  /** The peer's address. */
  readonly remoteAddress: TransportAddress;
  /** Whether the stream is encrypted (TLS). */
  readonly secure: boolean;
  /** Traffic counters. */
  readonly stats: Readonly<TransportStats>;
  /** Bytes queued or in flight, which the send-queue cap bounds. */
  readonly queuedBytes: number;
  /** Whether the transport is closed or closing. */
  readonly closed: boolean;
  /**
   * Starts reading. Frames and the close are reported to `handler`.
   *
   * @param handler Receives frames and the close.
   */
  start(handler: TransportHandler): void;
  /**
   * Gives the transport's frames and its close to another handler from now on: a connection
   * that resumed a session hands itself over to that session.
   *
   * @param handler The new handler.
   */
  handOver(handler: TransportHandler): void;
  /**
   * Queues one complete frame. Frames queued in the same tick leave in one write.
   *
   * @param frame The frame's bytes; they must not change afterwards.
   * @param volatile Whether the frame may be dropped when the send queue is full.
   * @returns What became of the frame.
   */
  send(frame: Uint8Array, volatile?: boolean): SendStatus;
  /**
   * Flushes what is queued (for at most `timeout` ms), then closes.
   *
   * @param timeout How long to wait for the queue to drain, in milliseconds.
   * @returns A promise that resolves when every resource is released.
   */
  close(timeout?: number): Promise<void>;
  /** Closes at once, discarding what is queued. Resolves when every resource is released. */
  abort(): Promise<void>;
  /**
   * Stops reading for a while: the frames of the current read are still handled, then no more is
   * read (the peer's sending backs up in TCP) until `ms` milliseconds have passed or the transport
   * closes. For a peer over its rate limit: what it sends meanwhile costs nothing to decode.
   *
   * @param ms How long, in milliseconds.
   */
  pauseReading(ms: number): void;
}
