/**
 * A {@linkcode Transport} over a Deno byte stream: a TCP connection, or a TLS one.
 *
 * @module
 */

import { FrameDecoder, type FrameReadOptions, ProtocolError } from "../protocol/mod.ts";
import { END_OF_TICK, type FlushScheduler } from "./flush_scheduler.ts";
import {
  LAST_WORDS_TIMEOUT,
  type SendStatus,
  type Transport,
  type TransportAddress,
  type TransportCloseCause,
  type TransportHandler,
  type TransportStats,
} from "./transport.ts";

/** The read buffer's default first size: small, because idle connections each hold one. */
export const DEFAULT_READ_BUFFER_SIZE = 512;
/** The size a busy connection's read buffer grows to, at most (64 KiB). */
export const MAX_READ_BUFFER_SIZE = 64 * 1024;
/** The default cap on bytes queued or in flight per connection (1 MiB). */
export const DEFAULT_SEND_QUEUE_LIMIT = 1024 * 1024;

/** Frames of one read handled before the connection lets others have a turn of the event loop. */
const FRAMES_PER_TURN = 256;

/** Resolves in a later turn of the event loop, after the I/O and timers due now. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Options of {@linkcode StreamTransport}. */
export interface StreamTransportOptions {
  /** How incoming frames are decoded: schemas, open channels, size limit. */
  readonly decode: FrameReadOptions;
  /**
   * The cap on bytes queued or in flight. Past it, volatile frames are dropped and other frames
   * close the transport.
   *
   * @default {1048576}
   */
  readonly sendQueueLimit?: number;
  /**
   * The first size of the one buffer each connection reads into. A read that fills it makes it
   * four times larger, up to 64 KiB, so a busy connection reads in few calls and an idle one
   * holds little.
   *
   * @default {512}
   */
  readonly readBufferSize?: number;
  /**
   * Whether the stream is TLS.
   *
   * @default {false}
   */
  readonly secure?: boolean;
  /**
   * When queued frames are written: at the end of the tick (the default), or on a shared send
   * tick ({@linkcode FlushTicker}).
   *
   * @default {END_OF_TICK}
   */
  readonly flush?: FlushScheduler;
  /**
   * Counters that many transports add their bytes to (a server's totals).
   *
   * @default {undefined}
   */
  readonly totals?: TrafficTotals;
}

/**
 * What {@linkcode StreamTransport} uses of its connection: a `Deno.Conn` (TCP or TLS) fits, and
 * so does a `NodeTcpConn` (a TCP connection from a chosen local address).
 */
export interface StreamConn {
  /** The peer's address (a `Deno.NetAddr` for TCP). */
  readonly remoteAddr: Deno.Addr;
  /** Reads into the buffer: how many bytes, or `null` at the end of the stream. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of the bytes: how many. */
  write(data: Uint8Array): Promise<number>;
  /** Ends the write side. */
  closeWrite(): Promise<void>;
  /** Closes the connection. */
  close(): void;
}

/** Bytes read and written, summed over many transports. */
export interface TrafficTotals {
  /** Bytes read. */
  bytesIn: number;
  /** Bytes written. */
  bytesOut: number;
}

/**
 * Frames a connection ({@linkcode StreamConn}). Reads go through `conn.read()` into one small
 * buffer per connection; frames sent in the same tick are joined into one write; a write in flight
 * counts against the send-queue cap, so a peer that never reads cannot grow this side's memory
 * without bound.
 */
export class StreamTransport implements Transport {
  readonly remoteAddress: TransportAddress;
  readonly secure: boolean;
  readonly stats: TransportStats = {
    bytesIn: 0,
    bytesOut: 0,
    framesIn: 0,
    framesOut: 0,
    writes: 0,
    dropped: 0,
    maxQueuedBytes: 0,
  };

  #conn: StreamConn;
  #decoder: FrameDecoder;
  #limit: number;
  #readBufferSize: number;
  #totals: TrafficTotals | undefined;
  #scheduler: FlushScheduler;
  #handler: TransportHandler | undefined;
  #state: "open" | "closing" | "closed" = "open";
  #queue: Uint8Array[] = [];
  #queued = 0;
  #inFlight = 0;
  #flushScheduled = false;
  #writing: Promise<void> | undefined;
  #drained: (() => void) | undefined;
  #connClosed = false;
  #cause: TransportCloseCause | undefined;
  #reading: Promise<void> | undefined;
  /** Until when reading is paused (`performance.now()`), and the wake-up of a pause under way. */
  #pausedUntil = 0;
  #wake: (() => void) | undefined;
  /** Settles when every resource is released; made when first awaited. */
  #done: Promise<void> | undefined;
  #resolveDone: (() => void) | undefined;
  #finished = false;

  /**
   * Wraps a connection. Nothing is read until {@linkcode StreamTransport.start}.
   *
   * @param conn The connection; the transport owns it and closes it.
   * @param options Decoding, the send-queue cap and the read buffer's size.
   */
  constructor(conn: StreamConn, options: StreamTransportOptions) {
    this.#conn = conn;
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.remoteAddress = { hostname: addr.hostname, port: addr.port };
    this.secure = options.secure ?? false;
    // Without schemas per channel in the options, the handler's (which may change, handOver).
    this.#decoder = new FrameDecoder(
      options.decode.channelSchemas !== undefined ? options.decode : {
        ...options.decode,
        channelSchemas: (channel) => this.#handler?.schemasOf?.(channel),
      },
    );
    this.#limit = options.sendQueueLimit ?? DEFAULT_SEND_QUEUE_LIMIT;
    this.#readBufferSize = options.readBufferSize ?? DEFAULT_READ_BUFFER_SIZE;
    this.#totals = options.totals;
    this.#scheduler = options.flush ?? END_OF_TICK;
  }

  get queuedBytes(): number {
    return this.#queued + this.#inFlight;
  }

  get closed(): boolean {
    return this.#state !== "open";
  }

  start(handler: TransportHandler): void {
    if (this.#handler !== undefined) throw new TypeError("The transport is started already");
    this.#handler = handler;
    this.#reading = this.#read();
  }

  handOver(handler: TransportHandler): void {
    this.#handler = handler;
  }

  send(frame: Uint8Array, volatile = false): SendStatus {
    if (this.#state !== "open") return "closed";
    const queued = this.#queued + this.#inFlight;
    if (queued > 0 && queued + frame.length > this.#limit) {
      if (volatile) {
        this.stats.dropped++;
        return "dropped";
      }
      this.#cause ??= { type: "overflow" };
      void this.abort();
      return "overflow";
    }
    // A frame that waits behind a write in flight is copied out of the larger buffer it shares
    // (encodeFrame's slab), or the queue would keep whole buffers alive that the cap never counts.
    const waits = this.#writing !== undefined && frame.byteLength < frame.buffer.byteLength;
    this.#queue.push(waits ? frame.slice() : frame);
    this.#queued += frame.length;
    this.stats.framesOut++;
    if (queued + frame.length > this.stats.maxQueuedBytes) {
      this.stats.maxQueuedBytes = queued + frame.length;
    }
    if (this.#writing === undefined && !this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#scheduler.schedule(this);
    }
    return "queued";
  }

  async close(timeout = 1000): Promise<void> {
    if (this.#state === "open") {
      this.#state = "closing";
      this.#cause ??= { type: "local" };
      const deadline = performance.now() + timeout;
      await this.#drainFor(timeout);
      if (this.#state === "closing" && this.#queue.length === 0 && this.#inFlight === 0) {
        // Half-close, then let the peer read what was sent and end the stream itself: closing
        // with its bytes unread would reset the connection and could lose ours.
        try {
          await this.#conn.closeWrite();
        } catch {
          // The peer is gone already.
        }
        const reading = this.#reading;
        if (reading !== undefined) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const expired = new Promise<void>((resolve) =>
            timer = setTimeout(resolve, Math.max(0, deadline - performance.now()))
          );
          await Promise.race([reading, expired]);
          clearTimeout(timer);
        }
      }
    }
    return this.abort();
  }

  pauseReading(ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, performance.now() + ms);
  }

  /** Waits out a pause of reading, or until the transport closes. */
  async #pause(): Promise<void> {
    const wait = this.#pausedUntil - performance.now();
    this.#pausedUntil = 0;
    if (wait <= 0 || this.#state !== "open") return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      timer = setTimeout(resolve, wait);
    });
    clearTimeout(timer);
    this.#wake = undefined;
  }

  abort(): Promise<void> {
    this.#wake?.();
    if (this.#state !== "closed") {
      this.#state = "closed";
      this.#cause ??= { type: "local" };
      this.#closeConn();
      if (this.#reading === undefined) void this.#finish();
    }
    return this.#released();
  }

  /** A promise that settles when every resource is released. */
  #released(): Promise<void> {
    if (this.#finished) return Promise.resolve();
    return this.#done ??= new Promise((resolve) => this.#resolveDone = resolve);
  }

  #closeConn(): void {
    if (this.#connClosed) return;
    this.#connClosed = true;
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
  }

  async #read(): Promise<void> {
    let buffer = new Uint8Array(this.#readBufferSize);
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) {
          this.#cause ??= { type: "eof" };
          break;
        }
        this.stats.bytesIn += n;
        if (this.#totals !== undefined) this.#totals.bytesIn += n;
        let handled = 0;
        for (const frame of this.#decoder.push(buffer.subarray(0, n))) {
          if (this.#state !== "open") continue;
          this.stats.framesIn++;
          this.#handler!.onFrame(frame);
          // A read full of small frames (a flood, or a backlog) is handled in turns, so that one
          // connection cannot hold the event loop for all the others.
          if (++handled % FRAMES_PER_TURN === 0) await nextTurn();
        }
        if (this.#pausedUntil > 0) await this.#pause();
        // The decoder keeps nothing of the chunk, so the buffer can be replaced between reads.
        if (n === buffer.length && buffer.length < MAX_READ_BUFFER_SIZE) {
          buffer = new Uint8Array(Math.min(buffer.length * 4, MAX_READ_BUFFER_SIZE));
        }
      }
    } catch (error) {
      if (this.#state === "open") {
        const err = error instanceof Error ? error : new Error(String(error));
        const protocol = error instanceof ProtocolError;
        this.#cause ??= protocol ? { type: "protocol", error: err } : { type: "error", error: err };
        const last = protocol ? this.#handler!.lastWords?.(err) : undefined;
        if (last !== undefined && this.send(last) === "queued") {
          this.#state = "closing";
          await this.#drainFor(LAST_WORDS_TIMEOUT);
        }
      }
    }
    this.#state = "closed";
    this.#closeConn();
    await this.#finish();
  }

  async #finish(): Promise<void> {
    if (this.#writing !== undefined) await this.#writing;
    this.#queue = [];
    this.#queued = 0;
    this.#handler?.onClose(this.#cause ?? { type: "local" });
    this.#finished = true;
    this.#resolveDone?.();
  }

  /** Writes what is queued (the flush scheduler calls it). */
  flush(): void {
    this.#flush();
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#writing !== undefined || this.#queue.length === 0 || this.#state === "closed") return;
    this.#writing = this.#write();
  }

  async #write(): Promise<void> {
    try {
      while (this.#queue.length > 0 && this.#state !== "closed") {
        const chunk = join(this.#queue, this.#queued);
        this.#queue = [];
        this.#inFlight = this.#queued;
        this.#queued = 0;
        for (let offset = 0; offset < chunk.length;) {
          const n = await this.#conn.write(chunk.subarray(offset));
          this.stats.writes++;
          this.stats.bytesOut += n;
          if (this.#totals !== undefined) this.#totals.bytesOut += n;
          offset += n;
          this.#inFlight = chunk.length - offset;
        }
      }
    } catch (error) {
      if (this.#state !== "closed") {
        this.#cause ??= {
          type: "error",
          error: error instanceof Error ? error : new Error(String(error)),
        };
        this.#state = "closed";
        this.#closeConn();
      }
    } finally {
      this.#inFlight = 0;
      this.#writing = undefined;
      this.#drained?.();
    }
  }

  /** Waits for the queue to drain, for at most `timeout` milliseconds. */
  async #drainFor(timeout: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<void>((resolve) => timer = setTimeout(resolve, timeout));
    try {
      await Promise.race([this.#drain(), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves when nothing is queued or in flight. */
  async #drain(): Promise<void> {
    while (this.#writing !== undefined || (this.#queue.length > 0 && this.#state !== "closed")) {
      if (this.#writing === undefined) this.#flush();
      await new Promise<void>((resolve) => this.#drained = resolve);
      this.#drained = undefined;
    }
  }
}

function join(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}
