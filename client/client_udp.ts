/**
 * The client's UDP path: its own socket, the hellos that prove its address to the server (and
 * keep proving it, so a changed address heals), and the checks on every datagram received.
 *
 * @module
 */

import {
  datagramBody,
  DatagramType,
  decodeHello,
  type ProtocolError,
  readDatagramHeader,
} from "../protocol/mod.ts";
import { type UdpStats, udpStatsOf } from "../session/delivery.ts";
import { helloClock, helloRoundTrip, RoundTrip } from "../session/heartbeat.ts";
import type { TimerEntry, TimerQueue } from "../session/timer_queue.ts";
import { type DatagramDrop, DatagramPath, noDrops } from "../transport/datagram_path.ts";
import { END_OF_TICK } from "../transport/flush_scheduler.ts";
import type { TransportAddress } from "../transport/transport.ts";
import { UdpSocket } from "../transport/udp_socket.ts";
import type { ResolvedClientUdpOptions } from "./client_options.ts";

/**
 * The UDP path's state:
 * - `off`: no UDP (the server offers none, or the client's `udp` option is `false`);
 * - `binding`: hellos are out, no answer yet;
 * - `open`: the server answered; unreliable emits go by UDP;
 * - `failed`: no answer after `helloAttempts` hellos, or the socket could not be bound.
 */
export type UdpState = "off" | "binding" | "open" | "failed";

/** The client's UDP path, as `client.udp` shows it. */
export interface ClientUdpStats extends UdpStats {
  /** The path's state. */
  readonly state: UdpState;
}

/** What the path tells its connection. */
export interface ClientUdpHooks {
  /** The state changed. */
  state(state: UdpState): void;
  /**
   * Authentic, fresh frames from the server.
   *
   * @returns Why the datagram is dropped, or `undefined` when its frames were delivered.
   */
  receive(type: DatagramType, sequence: number, body: Uint8Array): DatagramDrop | undefined;
  /** The socket could not be bound. */
  error(error: unknown): void;
}

/** What the handshake of `/` gave for UDP, and where to send. */
export interface ClientUdpSession {
  /** The server's UDP address. */
  readonly server: TransportAddress;
  /** The local address to bind (the TCP connection's). */
  readonly localHostname: string;
  /** The session id. */
  readonly session: number;
  /** The session key. */
  readonly key: Uint8Array;
}

/** The client's UDP path to the server. */
export class ClientUdp {
  #options: ResolvedClientUdpOptions;
  #timers: TimerQueue;
  #hooks: ClientUdpHooks;
  #session: ClientUdpSession;
  #state: UdpState = "binding";
  #socket: UdpSocket | undefined;
  #path: DatagramPath | undefined;
  #bound: Promise<void>;
  #timer: TimerEntry | undefined;
  #attempts = 0;
  #echo = 0;
  #lastHeard = 0;
  #closed = false;
  #roundTrip = new RoundTrip();

  /**
   * Binds a socket and starts sending hellos.
   *
   * @param session The server's address, the session id and key.
   * @param options The UDP options.
   * @param timers The client's timer queue.
   * @param hooks What the path tells its connection.
   */
  constructor(
    session: ClientUdpSession,
    options: ResolvedClientUdpOptions,
    timers: TimerQueue,
    hooks: ClientUdpHooks,
  ) {
    this.#session = session;
    this.#options = options;
    this.#timers = timers;
    this.#hooks = hooks;
    this.#bound = this.#bind();
  }

  /** The state. */
  get state(): UdpState {
    return this.#state;
  }

  /** The path, once the socket is bound. */
  get path(): DatagramPath | undefined {
    return this.#path;
  }

  /** The counters. */
  get stats(): ClientUdpStats {
    const path = this.#path;
    if (path === undefined) return { ...EMPTY_STATS, state: this.#state };
    return { ...udpStatsOf(path, this.#roundTrip), state: this.#state };
  }

  /** Stops: no more hellos, the socket closes. Resolves when it is released. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) this.#timers.cancel(this.#timer);
    this.#timer = undefined;
    this.#path?.close();
    await this.#bound;
    await this.#socket?.close();
  }

  async #bind(): Promise<void> {
    let socket: UdpSocket;
    try {
      socket = await UdpSocket.bind(
        {
          hostname: this.#session.localHostname,
          port: 0,
          maxDatagramSize: this.#options.maxDatagramSize,
        },
        (datagram, from) => this.#receive(datagram, from),
      );
    } catch (error) {
      if (!this.#closed) {
        this.#setState("failed");
        this.#hooks.error(error);
      }
      return;
    }
    this.#socket = socket;
    if (this.#closed) return;
    this.#path = new DatagramPath({
      session: this.#session.session,
      key: this.#session.key,
      fromServer: false,
      maxDatagramSize: this.#options.maxDatagramSize,
      replayWindow: this.#options.replayWindow,
      flush: END_OF_TICK,
      socket,
    });
    this.#hello();
  }

  #setState(state: UdpState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#hooks.state(state);
  }

  #hello = (): void => {
    this.#timer = undefined;
    const path = this.#path;
    if (this.#closed || path === undefined) return;
    const options = this.#options;
    if (this.#state === "open" && performance.now() - this.#lastHeard >= options.timeout) {
      // The server has gone quiet: its answers no longer reach this address. Prove it again.
      path.peer = undefined;
      this.#attempts = 0;
      this.#setState("binding");
    }
    if (this.#state === "binding" && this.#attempts >= options.helloAttempts) {
      this.#setState("failed");
      return;
    }
    this.#attempts++;
    path.sendHello({ time: helloClock(), echo: this.#echo }, this.#session.server);
    const wait = this.#state === "open" ? options.keepaliveInterval : options.helloInterval;
    this.#timer = this.#timers.schedule(wait, this.#hello);
  };

  #receive(datagram: Uint8Array, from: TransportAddress): void {
    const path = this.#path;
    if (path === undefined || this.#closed) return;
    const server = this.#session.server;
    if (from.port !== server.port || from.hostname !== server.hostname) {
      path.drop("unbound");
      return;
    }
    if (datagram.length > path.maxDatagramSize) {
      path.drop("oversized");
      return;
    }
    let header;
    try {
      header = readDatagramHeader(datagram);
    } catch (error) {
      path.drop((error as ProtocolError).code === "truncated" ? "truncated" : "invalid");
      return;
    }
    if (!header.fromServer || header.session !== path.session) {
      path.drop("invalid");
      return;
    }
    if (path.accept(datagram, header) !== undefined) return;
    this.#lastHeard = performance.now();
    if (header.type === DatagramType.Hello) {
      const hello = decodeHello(datagramBody(datagram));
      this.#echo = hello.time;
      if (hello.echo !== 0) this.#roundTrip.sample(helloRoundTrip(hello.echo));
      if (this.#state !== "open") {
        path.peer = server;
        this.#attempts = 0;
        this.#setState("open");
        // From now on, hellos are keepalives.
        if (this.#timer !== undefined) this.#timers.cancel(this.#timer);
        this.#timer = this.#timers.schedule(this.#options.keepaliveInterval, this.#hello);
      }
      return;
    }
    const dropped = this.#hooks.receive(header.type, header.sequence, datagramBody(datagram));
    if (dropped !== undefined) path.drop(dropped);
  }
}

const EMPTY_STATS: UdpStats = {
  bound: false,
  sent: 0,
  received: 0,
  bytesSent: 0,
  bytesReceived: 0,
  overflowed: 0,
  dropped: noDrops(),
  rtt: { last: undefined, smoothed: undefined },
};
