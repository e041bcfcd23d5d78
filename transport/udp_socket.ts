/**
 * A bound UDP socket, on `node:dgram`.
 *
 * Why `node:dgram`: Deno's own `Deno.listenDatagram` exists only behind `--unstable-net`, and a
 * library that needed it would fail for every importer who does not pass that flag. `node:dgram`
 * is stable in Deno and needs only `--allow-net`.
 *
 * Two things about `node:dgram` in Deno 2.9 shape this file. Each received datagram is read into
 * a fresh buffer sized by `recvBufferSize` (64 KiB unless told; Deno doubles the value, and it
 * does not resize the kernel's receive buffer), so the socket asks for buffers the size of the
 * largest datagram it expects: 6.5 µs of CPU per datagram received instead of 10.8. And every send is its own
 * asynchronous operation that `node:dgram` never refuses, so the socket bounds the bytes in
 * flight itself, as a TCP send queue would, and drops what would exceed it.
 *
 * @module
 */

import dgram from "node:dgram";
import type { TransportAddress } from "./transport.ts";

/** Receives the datagrams of a {@linkcode UdpSocket}. */
export type DatagramHandler = (datagram: Uint8Array, from: TransportAddress) => void;

/** Where to bind a UDP socket. */
export interface UdpBindOptions {
  /** The local address: an IPv4 or IPv6 literal. */
  readonly hostname: string;
  /** The local port; 0 for any free one. */
  readonly port: number;
  /**
   * The largest datagram expected, in bytes: the size of each receive buffer. A larger datagram
   * still arrives whole.
   *
   * @default {65536}
   */
  readonly maxDatagramSize?: number;
  /**
   * The most bytes of datagrams in flight (handed to the socket, not yet sent); a send that would
   * exceed it is dropped and counted in `overflowed`.
   *
   * @default {262144}
   */
  readonly sendQueueLimit?: number;
}

/** The default bound on bytes of datagrams in flight: 256 KiB. */
export const DEFAULT_UDP_SEND_QUEUE_LIMIT = 256 * 1024;

/** Counters of a UDP socket: every datagram, whatever became of it. */
export interface UdpSocketStats {
  /** Datagrams received. */
  received: number;
  /** Bytes of the datagrams received. */
  bytesIn: number;
  /** Datagrams sent. */
  sent: number;
  /** Bytes of the datagrams sent. */
  bytesOut: number;
  /** Datagrams dropped because the bytes in flight were at `sendQueueLimit`. */
  overflowed: number;
}

/** A UDP socket bound to a local address, sending to and receiving from any peer. */
export class UdpSocket {
  /** The local address and port the socket is bound to. */
  readonly address: TransportAddress;
  /** The counters. */
  readonly stats: UdpSocketStats = {
    received: 0,
    bytesIn: 0,
    sent: 0,
    bytesOut: 0,
    overflowed: 0,
  };
  #socket: dgram.Socket;
  #closing: Promise<void> | undefined;
  #sendQueueLimit: number;
  #inFlight = 0;
  #settled: (() => void)[] = [];

  private constructor(socket: dgram.Socket, handler: DatagramHandler, sendQueueLimit: number) {
    this.#socket = socket;
    this.#sendQueueLimit = sendQueueLimit;
    const bound = socket.address();
    this.address = { hostname: bound.address, port: bound.port };
    socket.on("message", (message, info) => {
      this.stats.received++;
      this.stats.bytesIn += message.byteLength;
      handler(
        new Uint8Array(message.buffer, message.byteOffset, message.byteLength),
        { hostname: info.address, port: info.port },
      );
    });
  }

  /**
   * Binds a socket. A socket always binds before it sends: an unbound `send` would bind the
   * wildcard address, which a program allowed only one address cannot use.
   *
   * @param options Where to bind.
   * @param handler Receives every datagram.
   * @returns The bound socket.
   * @throws {Deno.errors.AddrInUse} When the port is taken.
   * @throws {Error} When the address cannot be bound otherwise (not permitted, unknown).
   */
  static bind(options: UdpBindOptions, handler: DatagramHandler): Promise<UdpSocket> {
    const type = options.hostname.includes(":") ? "udp6" : "udp4";
    const socket = dgram.createSocket({
      type,
      reuseAddr: false,
      // In Deno, the size of each receive buffer (see the module's comment).
      recvBufferSize: Math.max(options.maxDatagramSize ?? 65536, 64),
    });
    const limit = options.sendQueueLimit ?? DEFAULT_UDP_SEND_QUEUE_LIMIT;
    return new Promise((resolve, reject) => {
      const failed = (error: Error & { code?: string }) => {
        socket.close();
        // As `Deno.listen` does for TCP, so callers tell a taken port apart the same way.
        reject(
          error.code === "EADDRINUSE"
            ? new Deno.errors.AddrInUse(
              `UDP ${options.hostname}:${options.port}: ${error.message}`,
              {
                cause: error,
              },
            )
            : error,
        );
      };
      socket.once("error", failed);
      socket.bind(options.port, options.hostname, () => {
        socket.off("error", failed);
        // Send errors (an unreachable peer) are per datagram; UDP drops them by nature.
        socket.on("error", () => {});
        resolve(new UdpSocket(socket, handler, limit));
      });
    });
  }

  /**
   * Sends one datagram, unless the bytes in flight are at the send queue's limit.
   *
   * @param datagram The bytes; they must not change afterwards.
   * @param to The peer.
   * @param prepare Called on the datagram just before it is sent, only when it will be (the
   *   sender's tag, so a dropped datagram costs no HMAC).
   * @returns Whether it was sent (`false`: closed, or dropped and counted in `overflowed`).
   */
  send(
    datagram: Uint8Array,
    to: TransportAddress,
    prepare?: (datagram: Uint8Array) => void,
  ): boolean {
    if (this.#closing !== undefined) return false;
    const size = datagram.length;
    if (this.#inFlight + size > this.#sendQueueLimit) {
      this.stats.overflowed++;
      return false;
    }
    prepare?.(datagram);
    this.#inFlight += size;
    this.stats.sent++;
    this.stats.bytesOut += size;
    this.#socket.send(datagram, to.port, to.hostname, () => {
      this.#inFlight -= size;
      if (this.#inFlight === 0) { for (const resolve of this.#settled.splice(0)) resolve(); }
    });
    return true;
  }

  /** Resolves when every datagram handed to the socket so far has been sent. */
  settled(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#settled.push(resolve));
  }

  /** Bytes of datagrams handed to the socket and not yet sent. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Closes the socket once the datagrams in flight have left (no new ones are taken); resolves
   * when its resources are released.
   */
  close(): Promise<void> {
    return this.#closing ??= this.settled().then(() =>
      new Promise((resolve) => this.#socket.close(() => resolve()))
    );
  }
}
