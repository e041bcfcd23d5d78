/**
 * One session's UDP path, as either side holds it: the key, the sequence numbers in both
 * directions, the replay window, the peer's address once proven, the frames waiting to leave,
 * and the counters.
 *
 * @module
 */

import {
  concatBytes,
  DATAGRAM_HEADER_SIZE,
  DATAGRAM_OVERHEAD,
  type DatagramHeader,
  DatagramType,
  encodeHello,
  type HelloBody,
  writeDatagramHeader,
} from "../protocol/mod.ts";
import { DatagramKey } from "./datagram_key.ts";
import type { Flushable, FlushScheduler } from "./flush_scheduler.ts";
import { MAX_SEQUENCE, ReplayWindow } from "./replay_window.ts";
import type { TransportAddress } from "./transport.ts";
import type { UdpSocket } from "./udp_socket.ts";

/**
 * Why a datagram was dropped:
 * - `late`: older than the replay window, or (sequenced) older than the last one delivered;
 * - `replayed`: its sequence number was seen before;
 * - `forged`: its tag is not the session key's;
 * - `oversized`: larger than `maxDatagramSize`;
 * - `truncated`: too short for its type, or a frame cut short;
 * - `unbound`: authentic, but from an address that has not proven itself with a hello;
 * - `invalid`: authentic, but holding what datagrams may not carry, or frames that fail to decode.
 */
export type DatagramDrop =
  | "late"
  | "replayed"
  | "forged"
  | "oversized"
  | "truncated"
  | "unbound"
  | "invalid";

/** Counters of datagrams dropped, by reason. */
export type DatagramDrops = Record<DatagramDrop, number>;

/** Counters of a UDP path. */
export interface DatagramStats {
  /** Datagrams sent. */
  sent: number;
  /** Datagrams received and accepted (authentic, fresh, from the bound address). */
  received: number;
  /** Bytes of the datagrams sent. */
  bytesSent: number;
  /** Bytes of the datagrams accepted. */
  bytesReceived: number;
  /** Datagrams not sent because the UDP socket's send queue was full (an overloaded sender). */
  overflowed: number;
  /** Datagrams dropped, by reason. */
  dropped: DatagramDrops;
}

/** Every drop counter at zero. */
export function noDrops(): DatagramDrops {
  return {
    late: 0,
    replayed: 0,
    forged: 0,
    oversized: 0,
    truncated: 0,
    unbound: 0,
    invalid: 0,
  };
}

/** What a {@linkcode DatagramPath} is made of. */
export interface DatagramPathOptions {
  /** The session id. */
  readonly session: number;
  /** The session key. */
  readonly key: Uint8Array;
  /** Whether this side is the server (it sets the direction bit of what it sends). */
  readonly fromServer: boolean;
  /** The largest datagram sent or accepted, overhead included. */
  readonly maxDatagramSize: number;
  /** The replay window's size. */
  readonly replayWindow: number;
  /** When queued frames leave. */
  readonly flush: FlushScheduler;
  /** The socket datagrams leave from. */
  readonly socket: UdpSocket;
}

/** The delivery classes a datagram of frames has. */
export type FrameDatagramType = typeof DatagramType.Unreliable | typeof DatagramType.Sequenced;

/**
 * A session's UDP path. Frames queued in one tick (or one send tick) leave packed into as few
 * datagrams as the size limit allows, one delivery class per datagram.
 */
export class DatagramPath implements Flushable {
  /** The session id. */
  readonly session: number;
  /** Seals and checks datagrams. */
  readonly key: DatagramKey;
  /** The counters. */
  readonly stats: DatagramStats = {
    sent: 0,
    received: 0,
    bytesSent: 0,
    bytesReceived: 0,
    overflowed: 0,
    dropped: noDrops(),
  };
  /** The largest datagram, overhead included. */
  readonly maxDatagramSize: number;
  /** Where datagrams go: the peer's proven address; `undefined` until then. */
  peer: TransportAddress | undefined;
  #fromServer: boolean;
  #window: ReplayWindow;
  #flush: FlushScheduler;
  #socket: UdpSocket;
  #sequence = 0;
  #closed = false;
  #scheduled = false;
  #seal = (datagram: Uint8Array): void => void this.key.seal(datagram);
  #pending: [Uint8Array[], Uint8Array[]] = [[], []];

  /**
   * Sets up a path; nothing is sent until `peer` is set.
   *
   * @param options Session, key, direction, limits, scheduler and socket.
   */
  constructor(options: DatagramPathOptions) {
    this.session = options.session;
    this.key = new DatagramKey(options.key);
    this.maxDatagramSize = options.maxDatagramSize;
    this.#fromServer = options.fromServer;
    this.#window = new ReplayWindow(options.replayWindow);
    this.#flush = options.flush;
    this.#socket = options.socket;
  }

  /** Whether frames can be sent: the peer is known, the path open, sequence numbers left. */
  get usable(): boolean {
    return this.peer !== undefined && !this.#closed && this.#sequence <= MAX_SEQUENCE;
  }

  /** The largest run of frames one datagram carries. */
  get maxBody(): number {
    return this.maxDatagramSize - DATAGRAM_OVERHEAD;
  }

  /**
   * Queues frames to leave in a datagram of `type` at the next flush.
   *
   * @param type Unreliable or sequenced.
   * @param frames Complete frames that must travel in one datagram, together at most
   *   {@linkcode DatagramPath.maxBody} bytes.
   * @returns Whether they were queued (the path is usable).
   */
  queue(type: FrameDatagramType, ...frames: Uint8Array[]): boolean {
    if (!this.usable) return false;
    const pending = this.#pending[type - 1]!;
    if (frames.length === 1) pending.push(frames[0]!);
    else pending.push(concatBytes(frames));
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#flush.schedule(this);
    }
    return true;
  }

  /**
   * Sends a hello now.
   *
   * @param hello The sender's time and the echo of the peer's.
   * @param to Where to, when the path has no peer yet (the client's first hellos).
   */
  sendHello(hello: HelloBody, to: TransportAddress | undefined = this.peer): void {
    if (to === undefined || this.#closed || this.#sequence > MAX_SEQUENCE) return;
    const body = encodeHello(hello);
    const datagram = new Uint8Array(DATAGRAM_OVERHEAD + body.length);
    this.#write(datagram, DatagramType.Hello);
    datagram.set(body, DATAGRAM_HEADER_SIZE);
    this.#send(datagram, to);
  }

  /** Sends every queued frame, packed into datagrams. */
  flush(): void {
    this.#scheduled = false;
    const to = this.peer;
    for (let i = 0; i < 2; i++) {
      const frames = this.#pending[i]!;
      if (frames.length === 0) continue;
      this.#pending[i] = [];
      if (to === undefined || this.#closed) continue;
      this.#pack(i + 1 as FrameDatagramType, frames, to);
    }
  }

  /**
   * Checks a received datagram whose header was read: its tag, then its sequence number. Only
   * an authentic datagram moves the replay window.
   *
   * @param datagram The datagram.
   * @param header Its header.
   * @returns Why it is dropped (counted), or `undefined` when it is accepted.
   */
  accept(datagram: Uint8Array, header: DatagramHeader): DatagramDrop | undefined {
    if (!this.key.verify(datagram)) return this.drop("forged");
    const verdict = this.#window.check(header.sequence);
    if (verdict === "replayed") return this.drop("replayed");
    if (verdict === "too_old") return this.drop("late");
    this.stats.received++;
    this.stats.bytesReceived += datagram.length;
    return undefined;
  }

  /**
   * Counts a dropped datagram.
   *
   * @param reason Why.
   * @returns The reason.
   */
  drop(reason: DatagramDrop): DatagramDrop {
    this.stats.dropped[reason]++;
    return reason;
  }

  /** Stops sending: queued frames are discarded. */
  close(): void {
    this.#closed = true;
    this.#pending = [[], []];
  }

  #pack(type: FrameDatagramType, frames: Uint8Array[], to: TransportAddress): void {
    const maxBody = this.maxBody;
    let start = 0;
    while (start < frames.length) {
      let size = frames[start]!.length;
      let end = start + 1;
      while (end < frames.length && size + frames[end]!.length <= maxBody) {
        size += frames[end]!.length;
        end++;
      }
      if (this.#sequence > MAX_SEQUENCE) return;
      const datagram = new Uint8Array(DATAGRAM_OVERHEAD + size);
      this.#write(datagram, type);
      let at = DATAGRAM_HEADER_SIZE;
      for (let i = start; i < end; i++) {
        datagram.set(frames[i]!, at);
        at += frames[i]!.length;
      }
      this.#send(datagram, to);
      start = end;
    }
  }

  #write(datagram: Uint8Array, type: DatagramType): void {
    const header: DatagramHeader = {
      fromServer: this.#fromServer,
      type,
      session: this.session,
      sequence: this.#sequence++,
    };
    writeDatagramHeader(datagram, header);
  }

  #send(datagram: Uint8Array, to: TransportAddress): void {
    if (this.#socket.send(datagram, to, this.#seal)) {
      this.stats.sent++;
      this.stats.bytesSent += datagram.length;
    } else this.stats.overflowed++;
  }
}
