/**
 * The server's UDP side: one socket for every session's datagrams. It reads each datagram's
 * header, finds the session, checks the tag and the replay window, binds a session's address on
 * its hello, and hands frames to the session's connection. Nothing reaches an address before it
 * has proven itself, except the answer to its hello, which is never larger than the hello.
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
import { DatagramKey } from "../transport/datagram_key.ts";
import {
  type DatagramDrop,
  type DatagramDrops,
  DatagramPath,
  noDrops,
} from "../transport/datagram_path.ts";
import type { FlushScheduler } from "../transport/flush_scheduler.ts";
import type { TransportAddress } from "../transport/transport.ts";
import { UdpSocket } from "../transport/udp_socket.ts";
import type { ResolvedUdpOptions } from "./server_options.ts";

/** Counters of the server's UDP socket. */
export interface ServerUdpStats {
  /** Datagrams that arrived, whatever became of them. */
  received: number;
  /** Bytes of the datagrams that arrived. */
  bytesIn: number;
  /** Datagrams sent. */
  sent: number;
  /** Bytes of the datagrams sent. */
  bytesOut: number;
  /** Datagrams not sent because the socket's send queue was full (an overloaded server). */
  overflowed: number;
  /** Datagrams dropped, by reason; `unknown` names no live session. */
  dropped: DatagramDrops & { unknown: number };
}

/** What a session's UDP path delivers to its connection. */
export interface UdpSessionOwner {
  /**
   * Authentic, fresh frames from the session's bound address.
   *
   * @param type Unreliable or sequenced.
   * @param sequence The datagram's sequence number.
   * @param body The frames.
   * @returns Why the datagram is dropped, or `undefined` when its frames were delivered.
   */
  receiveDatagram(type: DatagramType, sequence: number, body: Uint8Array): DatagramDrop | undefined;
  /**
   * The session's address was proven by a hello: the first time, or a new one (NAT rebinding).
   *
   * @param address The address.
   * @param rebound Whether it replaces another.
   */
  udpBound(address: TransportAddress, rebound: boolean): void;
}

/** One session's UDP state on the server. */
export class UdpSession {
  /** The path: key, sequence numbers, bound address, counters. */
  readonly path: DatagramPath;
  /** Round trips of the client's hellos. */
  readonly roundTrip: RoundTrip = new RoundTrip();
  /** The key, for the handshake. */
  readonly key: Uint8Array;
  /** Who gets the frames. */
  readonly owner: UdpSessionOwner;

  /**
   * Made by {@linkcode ServerUdp.open}.
   *
   * @ignore
   */
  constructor(path: DatagramPath, key: Uint8Array, owner: UdpSessionOwner) {
    this.path = path;
    this.key = key;
    this.owner = owner;
  }

  /** The session id datagrams carry. */
  get id(): number {
    return this.path.session;
  }

  /** Counters, for `socket.udp`. */
  get stats(): UdpStats {
    return udpStatsOf(this.path, this.roundTrip);
  }
}

/** The server's UDP socket and its sessions. */
export class ServerUdp {
  /** The counters. */
  readonly stats: ServerUdpStats;
  /**
   * The port handshakes announce: 0 ("the port number of the TCP port you reached") when the
   * UDP port has the TCP port's number, else the UDP port.
   */
  announcedPort = 0;
  #socket: UdpSocket;
  #options: ResolvedUdpOptions;
  #flush: FlushScheduler;
  #sessions = new Map<number, UdpSession>();

  private constructor(socket: UdpSocket, options: ResolvedUdpOptions, flush: FlushScheduler) {
    this.#socket = socket;
    this.#options = options;
    this.#flush = flush;
    const counts = socket.stats;
    this.stats = {
      get received() {
        return counts.received;
      },
      get bytesIn() {
        return counts.bytesIn;
      },
      get sent() {
        return counts.sent;
      },
      get bytesOut() {
        return counts.bytesOut;
      },
      get overflowed() {
        return counts.overflowed;
      },
      dropped: { ...noDrops(), unknown: 0 },
    };
  }

  /**
   * Binds the server's UDP socket.
   *
   * @param hostname The address to bind.
   * @param port The port; 0 for any.
   * @param options The UDP options.
   * @param flush When queued frames leave.
   * @returns The bound endpoint.
   * @throws {Error} When the port cannot be bound.
   */
  static async bind(
    hostname: string,
    port: number,
    options: ResolvedUdpOptions,
    flush: FlushScheduler,
  ): Promise<ServerUdp> {
    // Datagrams may only arrive once the socket is bound, after `endpoint` is set.
    let endpoint: ServerUdp | undefined = undefined;
    const socket = await UdpSocket.bind(
      { hostname, port, maxDatagramSize: options.maxDatagramSize },
      (datagram, from) => {
        if (endpoint !== undefined) endpoint.#receive(datagram, from);
      },
    );
    endpoint = new ServerUdp(socket, options, flush);
    return endpoint;
  }

  /** The port the socket is bound to. */
  get port(): number {
    return this.#socket.address.port;
  }

  /**
   * Opens a session for a connection: a fresh id and key.
   *
   * @param owner The connection.
   * @returns The session.
   */
  open(owner: UdpSessionOwner): UdpSession {
    let id: number;
    do id = crypto.getRandomValues(new Uint32Array(1))[0]!; while (this.#sessions.has(id));
    const key = DatagramKey.random();
    const path = new DatagramPath({
      session: id,
      key,
      fromServer: true,
      maxDatagramSize: this.#options.maxDatagramSize,
      replayWindow: this.#options.replayWindow,
      flush: this.#flush,
      socket: this.#socket,
    });
    const session = new UdpSession(path, key, owner);
    this.#sessions.set(id, session);
    return session;
  }

  /**
   * Ends a session: its datagrams are dropped as unknown from now on.
   *
   * @param session The session.
   */
  end(session: UdpSession): void {
    session.path.close();
    if (this.#sessions.get(session.id) === session) this.#sessions.delete(session.id);
  }

  /** Closes the socket. */
  close(): Promise<void> {
    for (const session of this.#sessions.values()) session.path.close();
    this.#sessions.clear();
    return this.#socket.close();
  }

  #drop(reason: DatagramDrop | "unknown", session?: UdpSession): void {
    this.stats.dropped[reason]++;
    if (session !== undefined && reason !== "unknown") session.path.drop(reason);
  }

  #receive(datagram: Uint8Array, from: TransportAddress): void {
    const sessionOf = () =>
      datagram.length >= 5
        ? this.#sessions.get(new DataView(datagram.buffer, datagram.byteOffset).getUint32(1))
        : undefined;
    if (datagram.length > this.#options.maxDatagramSize) {
      return this.#drop("oversized", sessionOf());
    }
    let header;
    try {
      header = readDatagramHeader(datagram);
    } catch (error) {
      const code = (error as ProtocolError).code;
      return this.#drop(code === "truncated" ? "truncated" : "invalid", sessionOf());
    }
    // A datagram the server sent, reflected back at it, is refused before anything else.
    if (header.fromServer) return this.#drop("invalid", sessionOf());
    const session = this.#sessions.get(header.session);
    if (session === undefined) return this.#drop("unknown");
    const path = session.path;
    const refused = path.accept(datagram, header);
    if (refused !== undefined) {
      this.stats.dropped[refused]++;
      return;
    }
    if (header.type === DatagramType.Hello) return this.#hello(session, datagram, from);
    const bound = path.peer;
    if (bound === undefined || bound.port !== from.port || bound.hostname !== from.hostname) {
      return this.#drop("unbound", session);
    }
    const dropped = session.owner.receiveDatagram(
      header.type,
      header.sequence,
      datagramBody(datagram),
    );
    if (dropped !== undefined) this.#drop(dropped, session);
  }

  #hello(session: UdpSession, datagram: Uint8Array, from: TransportAddress): void {
    const hello = decodeHello(datagramBody(datagram));
    if (hello.echo !== 0) session.roundTrip.sample(helloRoundTrip(hello.echo));
    const path = session.path;
    const before = path.peer;
    const moved = before === undefined || before.port !== from.port ||
      before.hostname !== from.hostname;
    if (moved) path.peer = { hostname: from.hostname, port: from.port };
    // The answer has the hello's size exactly: the server never sends more than it was sent.
    path.sendHello({ time: helloClock(), echo: hello.time });
    if (moved) session.owner.udpBound(path.peer!, before !== undefined);
  }
}
