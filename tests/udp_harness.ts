/**
 * Helpers of the UDP tests: clients whose UDP path is open, a raw UDP peer that speaks the
 * datagram layout by hand (the hostile client), a UDP socket that awaits what arrives (with the
 * port it came from), and the session a raw TCP handshake gives.
 */

import dgram from "node:dgram";
import {
  type DatagramHeader,
  DatagramType,
  defineSchema,
  encodeFrame,
  encodeHello,
  Handshake,
  SchemaRegistry,
  writeDatagram,
} from "../protocol/mod.ts";
import type { GameSocketClient } from "../client.ts";
import { DatagramKey } from "../transport/datagram_key.ts";
import { RawPeer, rootConnect } from "./harness.ts";
import { eventOf, nextFrame, within } from "./within.ts";

/** A game-state message for the UDP tests. */
export const Pos = defineSchema({
  name: "Pos",
  code: 40,
  version: 0,
  fields: { n: { id: 0, type: "uint32" }, x: { id: 1, type: "int16" } },
});

/** The same message, declared `sequenced`. */
export const LatestPos = defineSchema({
  name: "LatestPos",
  code: 41,
  version: 0,
  delivery: "sequenced",
  fields: { n: { id: 0, type: "uint32" } },
});

/** Client UDP options that bind fast and keep keepalives out of the way. */
export const QUICK_UDP = { helloInterval: 10, keepaliveInterval: 60_000, timeout: 120_000 };

/** Resolves when a client's UDP path is open (the server has its address). */
export async function udpOpen(client: GameSocketClient): Promise<void> {
  for (let i = 0; i < 100 && client.udp?.state !== "open"; i++) {
    const [state] = await eventOf<[string]>(client, "udp_state");
    if (state === "failed") throw new Error("The UDP path failed");
  }
  if (client.udp?.state !== "open") throw new Error("The UDP path did not open");
}

/** The UDP session a server gives a connection, as its handshake says. */
export interface UdpSession {
  /** The raw TCP connection that holds the session open. */
  readonly peer: RawPeer;
  /** The announced UDP port (0: the TCP port's number). */
  readonly udpPort: number;
  /** The session id. */
  readonly session: number;
  /** The session key. */
  readonly key: Uint8Array;
}

/**
 * Connects a raw TCP peer to `/` and reads the handshake's UDP fields.
 *
 * @param port The server's TCP port.
 * @param schemas The server's schemas (their fingerprint goes in the connect).
 */
export async function rawSession(
  port: number,
  schemas: SchemaRegistry = new SchemaRegistry(),
): Promise<UdpSession> {
  const peer = await RawPeer.connect(port);
  await peer.write(rootConnect(schemas));
  const frame = await nextFrame(peer);
  if (frame?.type !== "control" || frame.schema !== Handshake) {
    throw new Error("Expected the handshake of /");
  }
  const value = frame.value as { udpPort?: number; udpKey?: Uint8Array; udpSession?: number };
  if (value.udpKey === undefined || value.udpSession === undefined) {
    throw new Error("The handshake has no UDP session");
  }
  return { peer, udpPort: value.udpPort!, session: value.udpSession, key: value.udpKey };
}

/** A raw UDP socket on 127.0.0.1 that sends datagrams built by hand and records what comes. */
export class RawUdp implements AsyncDisposable {
  /** Every datagram received, in order. */
  readonly received: Uint8Array[] = [];
  /** Bytes sent. */
  bytesSent = 0;
  #socket: dgram.Socket;
  #target: number;
  #waiters: { count: number; resolve: () => void }[] = [];
  #pending: Promise<void>[] = [];

  private constructor(socket: dgram.Socket, target: number) {
    this.#socket = socket;
    this.#target = target;
    socket.on("message", (message) => {
      this.received.push(new Uint8Array(message));
      this.#waiters = this.#waiters.filter((w) => {
        if (this.received.length < w.count) return true;
        w.resolve();
        return false;
      });
    });
  }

  /** Binds a socket that sends to 127.0.0.1:`target`. */
  static async open(target: number): Promise<RawUdp> {
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
    return new RawUdp(socket, target);
  }

  /** The local port. */
  get port(): number {
    return this.#socket.address().port;
  }

  /**
   * Sends bytes as they are. Sends are asynchronous and may leave out of order: await
   * {@linkcode RawUdp.sent} before a send that must come after them.
   */
  send(datagram: Uint8Array): void {
    this.bytesSent += datagram.length;
    this.#pending.push(
      new Promise((resolve) =>
        this.#socket.send(datagram, this.#target, "127.0.0.1", () => resolve())
      ),
    );
  }

  /** Resolves when every datagram sent so far has left the socket. */
  async sent(): Promise<void> {
    const pending = this.#pending;
    this.#pending = [];
    await Promise.all(pending);
  }

  /** Resolves when `count` datagrams in all have arrived, within the test deadline. */
  receivedCount(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return within(
      new Promise<void>((resolve) => this.#waiters.push({ count, resolve })),
      `${count} datagrams`,
    );
  }

  /** Closes the socket, once what it sent has left. */
  async close(): Promise<void> {
    await this.sent();
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A UDP socket on 127.0.0.1 that awaits what arrives. */
export class UdpPeer implements AsyncDisposable {
  /** The socket. */
  readonly socket: dgram.Socket;
  #inbox: { data: Uint8Array; port: number }[] = [];
  #waiting: (() => void) | undefined;

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on("message", (message, from) => {
      this.#inbox.push({ data: new Uint8Array(message), port: from.port });
      this.#waiting?.();
    });
  }

  /** Binds a socket on 127.0.0.1 to a free port. */
  static async open(): Promise<UdpPeer> {
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
    return new UdpPeer(socket);
  }

  /** The local port. */
  get port(): number {
    return this.socket.address().port;
  }

  /** Sends `data` to 127.0.0.1:`port`. */
  send(data: Uint8Array, port: number): void {
    this.socket.send(data, port, "127.0.0.1");
  }

  /** The next datagram, and the port it came from. */
  async next(what = "a datagram"): Promise<{ data: Uint8Array; port: number }> {
    if (this.#inbox.length === 0) {
      await within(new Promise<void>((resolve) => this.#waiting = resolve), what);
      this.#waiting = undefined;
    }
    return this.#inbox.shift()!;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/**
 * Builds a sealed datagram from a client.
 *
 * @param key The key to seal with.
 * @param header Type, session and sequence.
 * @param body The body.
 */
export function clientDatagram(
  key: Uint8Array,
  header: Omit<DatagramHeader, "fromServer">,
  body: Uint8Array,
): Uint8Array {
  return new DatagramKey(key).seal(writeDatagram({ ...header, fromServer: false }, body));
}

/** A client's hello, sealed. */
export function clientHello(key: Uint8Array, session: number, sequence: number, echo = 0) {
  return clientDatagram(
    key,
    { type: DatagramType.Hello, session, sequence },
    encodeHello({ time: 1, echo }),
  );
}

/** A datagram of `Pos` messages on channel 0, sealed. */
export function posDatagram(
  key: Uint8Array,
  session: number,
  sequence: number,
  n: number,
  type: DatagramType = DatagramType.Unreliable,
): Uint8Array {
  return clientDatagram(key, { type, session, sequence }, encodeFrame(Pos, { n, x: 0 }).slice());
}
