/**
 * Delivery classes: how an emit asks to travel, what became of it, and the UDP path's counters.
 *
 * @module
 */

import type { Delivery } from "../protocol/mod.ts";
import type { DatagramDrops, DatagramPath } from "../transport/datagram_path.ts";
import type { SendStatus, TransportAddress } from "../transport/transport.ts";
import type { RoundTrip } from "./heartbeat.ts";

export type { Delivery } from "../protocol/mod.ts";

/**
 * What an `unreliable` or `sequenced` emit does when UDP cannot carry it (no UDP path, not bound
 * yet, or larger than a datagram): `tcp` sends it over TCP instead; `none` does not send it
 * (`unavailable`) or, for a message too large for a datagram, throws `DatagramTooLargeError`.
 */
export type UdpFallback = "tcp" | "none";

/**
 * What became of a frame handed to a connection: a transport's `SendStatus`, or `datagram`
 * (queued for UDP), or `unavailable` (UDP could not carry it and the fallback is `none`).
 */
export type DeliveryStatus = SendStatus | "datagram" | "unavailable";

/** How one frame is to travel. */
export interface SendOptions {
  /** Whether it may be dropped when the TCP send queue is full. */
  readonly volatile: boolean;
  /** The delivery class. */
  readonly delivery: Delivery;
  /** What an unreliable frame does when UDP cannot carry it. */
  readonly fallback: UdpFallback;
}

/** A reliable, non-volatile frame: the default. */
export const RELIABLE: SendOptions = { volatile: false, delivery: "reliable", fallback: "tcp" };

/** A connection's UDP path, as `socket.udp` shows it. */
export interface UdpStats {
  /** Whether datagrams can flow: the client's address is proven (the server has its hello). */
  readonly bound: boolean;
  /** The peer's UDP address, once bound. */
  readonly address?: TransportAddress;
  /** Datagrams sent. */
  readonly sent: number;
  /** Datagrams received and accepted. */
  readonly received: number;
  /** Bytes of the datagrams sent. */
  readonly bytesSent: number;
  /** Bytes of the datagrams accepted. */
  readonly bytesReceived: number;
  /** Datagrams not sent because the UDP socket's send queue was full. */
  readonly overflowed: number;
  /** Datagrams dropped, by reason. */
  readonly dropped: Readonly<DatagramDrops>;
  /** Round trips of hellos over UDP, in milliseconds. */
  readonly rtt: { readonly last: number | undefined; readonly smoothed: number | undefined };
}

/**
 * A snapshot of a path's counters.
 *
 * @param path The path.
 * @param rtt Its hellos' round trips.
 * @returns The stats.
 */
export function udpStatsOf(path: DatagramPath, rtt: RoundTrip): UdpStats {
  const stats = path.stats;
  return {
    bound: path.usable,
    ...(path.peer === undefined ? {} : { address: path.peer }),
    sent: stats.sent,
    received: stats.received,
    bytesSent: stats.bytesSent,
    bytesReceived: stats.bytesReceived,
    overflowed: stats.overflowed,
    dropped: { ...stats.dropped },
    rtt: { last: rtt.last, smoothed: rtt.smoothed },
  };
}
