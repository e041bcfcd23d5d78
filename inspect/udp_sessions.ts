/**
 * What a relay learns from the UDP announcements in `Handshake` frames: which TCP connection
 * each UDP session belongs to, and whether clients will send their datagrams through the relay
 * at all. Internal to the inspector.
 *
 * @module
 */

import { type Frame, Handshake } from "../protocol/mod.ts";
import type { ConnectionNames } from "./connection_names.ts";

/** The TCP connection a UDP session belongs to. */
export interface UdpSession {
  /** The connection's number. */
  readonly conn: number;
  /** What the connection has declared: its namespaces and event names. */
  readonly names: ConnectionNames;
  /** The session's datagram key (`udpKey`), when the `Handshake` carried one. */
  readonly key?: Uint8Array;
}

/** Options for {@linkcode UdpSessionTable}. */
export interface UdpSessionTableOptions {
  /** The relay's listening port: where clients told `udpPort: 0` send their datagrams. */
  listenPort: number;
  /** The server's TCP port. */
  targetPort: number;
  /** The server's UDP port the relay forwards to, when it relays UDP. */
  udpPort: number | undefined;
}

/**
 * Maps UDP session ids to the TCP connections whose `Handshake` announced them, and finds what
 * is wrong with an announcement, each problem once.
 */
export class UdpSessionTable {
  #options: UdpSessionTableOptions;
  #sessions = new Map<number, UdpSession>();
  #warned = new Set<string>();

  /**
   * Creates an empty table.
   *
   * @param options The relay's ports.
   */
  constructor(options: UdpSessionTableOptions) {
    this.#options = options;
  }

  /**
   * Learns from a frame the server sent on a connection: a `Handshake` with `udpSession` maps
   * the session to the connection (and its `udpKey`).
   *
   * @param frame The frame.
   * @param connection The connection it came on.
   * @returns A warning about the announcement, the first time it applies.
   */
  learn(frame: Frame, connection: Omit<UdpSession, "key">): string | undefined {
    if (frame.type !== "control" || frame.schema !== Handshake) return undefined;
    const { udpPort, udpSession, udpKey } = frame.value as {
      udpPort?: number;
      udpSession?: number;
      udpKey?: Uint8Array;
    };
    if (udpSession !== undefined) {
      this.#sessions.set(udpSession, {
        ...connection,
        ...(udpKey === undefined ? {} : { key: udpKey }),
      });
    }
    if (udpPort === undefined) return undefined;
    const warning = this.#check(udpPort);
    if (warning === undefined || this.#warned.has(warning)) return undefined;
    this.#warned.add(warning);
    return warning;
  }

  /**
   * The connection a session belongs to.
   *
   * @param session The session id of a datagram.
   * @returns The connection, while it is open.
   */
  lookup(session: number): UdpSession | undefined {
    return this.#sessions.get(session);
  }

  /**
   * Forgets the sessions of a connection that closed.
   *
   * @param conn The connection's number.
   */
  forget(conn: number): void {
    for (const [id, session] of this.#sessions) {
      if (session.conn === conn) this.#sessions.delete(id);
    }
  }

  #check(udpPort: number): string | undefined {
    const { listenPort, targetPort, udpPort: relayed } = this.#options;
    if (udpPort !== 0) {
      return `the server announces UDP port ${udpPort}: clients will send their datagrams ` +
        `straight there, bypassing the relay; have the server announce the same-port form ` +
        `(udpPort 0) to relay them`;
    }
    if (relayed === undefined) {
      return `the server announces UDP on its TCP port's number: clients will send their ` +
        `datagrams to the relay's port ${listenPort}, where the relay does not relay UDP; ` +
        `give it the server's UDP port (--udp-port ${targetPort})`;
    }
    if (relayed !== targetPort) {
      return `the server announces UDP on its TCP port's number, ${targetPort}, but the relay ` +
        `forwards datagrams to port ${relayed}`;
    }
    return undefined;
  }
}
