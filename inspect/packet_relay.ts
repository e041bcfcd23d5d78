/**
 * A transparent TCP (and UDP) relay that decodes what it forwards: the logic behind
 * `deno task dump`.
 *
 * @module
 */

import { checkMaxFrameSize, type SchemaRegistry } from "../protocol/mod.ts";
import { DatagramDecoder } from "./datagram_decoder.ts";
import { DatagramRelay } from "./datagram_relay.ts";
import type { RelayDirection } from "./relay_capture.ts";
import { RelayDecoder } from "./relay_decoder.ts";
import type { RelayEvent } from "./relay_events.ts";
import { UdpSessionTable } from "./udp_sessions.ts";

/** Options for {@linkcode PacketRelay}. */
export interface PacketRelayOptions {
  /**
   * Where to listen; port 0 picks a free port (see {@linkcode PacketRelay.addr}).
   *
   * @default {{hostname: "127.0.0.1", port: 0}}
   */
  listen?: { hostname?: string; port?: number };
  /**
   * Where to relay each connection to (the server). Its hostname defaults to `127.0.0.1`.
   *
   * With `udpPort`, the server's UDP port, the relay also relays datagrams: it binds UDP on its
   * own listening address and port number (where clients told `udpPort: 0` in the `Handshake`
   * send them), and forwards each datagram to the target's host at `udpPort`, from one socket
   * per client address, and the answers back.
   */
  target: { hostname?: string; port: number; udpPort?: number };
  /**
   * The application's schemas; frames of other schemas are reported with their raw bytes.
   *
   * @default {an empty registry}
   */
  schemas?: SchemaRegistry;
  /**
   * The largest frame to decode, in bytes; a bigger one is reported as an error (and relayed).
   *
   * @default {65536}
   */
  maxFrameSize?: number;
  /**
   * Called with every event, synchronously, in order. It must not throw (an error it throws is
   * reported with `reportError`).
   *
   * @default {ignores events}
   */
  onEvent?: (event: RelayEvent) => void;
}

const READ_SIZE = 64 * 1024;

/** One relayed connection: the client's socket, the server's, and its decoder. */
class RelayedConnection {
  readonly id: number;
  readonly client: Deno.TcpConn;
  server: Deno.TcpConn | undefined;
  readonly abort = new AbortController();
  readonly decoder: RelayDecoder;
  closed = false;

  constructor(id: number, client: Deno.TcpConn, decoder: RelayDecoder) {
    this.id = id;
    this.client = client;
    this.decoder = decoder;
  }

  /** Closes both sockets (once), which ends any read or write in progress on them. */
  shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    for (const conn of [this.client, this.server]) {
      try {
        conn?.close();
      } catch {
        // Closed already (an aborted connect closes its socket itself).
      }
    }
  }
}

/**
 * A transparent TCP relay for game-socket connections. For each connection it accepts, it
 * connects to the target and forwards bytes unchanged in both directions, each chunk as soon as
 * it arrives (reading no more from a side until the other has taken the chunk), and reports every
 * chunk and every decoded frame through `onEvent`. Bytes that do not decode are reported and
 * relayed all the same. When one side ends its stream, the relay ends the other's write side
 * (a half-close); when one side fails, it closes both.
 *
 * With `target.udpPort` it relays datagrams too, each unchanged and at once, and reports each as
 * a `datagram` event, decoded when it can be, named after the TCP connection whose `Handshake`
 * announced its session (and its tag checked under the key that `Handshake` carried). A
 * `Handshake` whose UDP announcement would make clients miss the relay is reported as a
 * `warning`.
 *
 * @example Relaying a connection and watching its first frame
 * ```ts
 * import { PacketRelay, type RelayEvent } from "@game-socket/game-socket/inspect";
 * import { encodeFrame, Ping } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * using server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const events: RelayEvent[] = [];
 * await using relay = new PacketRelay({
 *   target: { port: server.addr.port },
 *   onEvent: (event) => events.push(event),
 * });
 * using client = await Deno.connect({ hostname: "127.0.0.1", port: relay.addr.port });
 * using accepted = await server.accept();
 * await client.write(encodeFrame(Ping, { timestamp: 7 }));
 * const buffer = new Uint8Array(16);
 * assert.equal(await accepted.read(buffer), 9);
 * const packet = events.find((event) => event.type === "packet");
 * assert.equal(packet?.entry.frame.type === "control" && packet.entry.frame.schema, Ping);
 * ```
 */
export class PacketRelay implements AsyncDisposable {
  /** The address the relay listens on. */
  readonly addr: Deno.NetAddr;
  /** The address it relays to, and the UDP port datagrams go to when it relays them. */
  readonly target: { readonly hostname: string; readonly port: number; readonly udpPort?: number };
  /**
   * Resolves when the relay listens: at once for TCP alone (it listens from the constructor on),
   * once its UDP socket is bound with `target.udpPort`. Rejects when that socket cannot be bound
   * (the relay then stops, and {@linkcode PacketRelay.finished} rejects too).
   */
  readonly ready: Promise<void>;
  /**
   * Settles when the relay has stopped and every connection has ended: it resolves after
   * {@linkcode PacketRelay.close}, and rejects when a listening socket fails.
   */
  readonly finished: Promise<void>;
  #listener: Deno.TcpListener;
  #datagrams: DatagramRelay | undefined;
  #datagramDecoder: DatagramDecoder;
  #sessions: UdpSessionTable;
  #udpFailure: Error | undefined;
  #onEvent: (event: RelayEvent) => void;
  #schemas: SchemaRegistry | undefined;
  #maxFrameSize: number;
  #started = performance.now();
  #connections = new Set<RelayedConnection>();
  #accepted = 0;
  #packets = 0;
  #closing = false;

  /**
   * Starts listening and relaying.
   *
   * @param options Where to listen, where to relay to, how to decode, where events go.
   * @throws {RangeError} When a port is out of range or `maxFrameSize` is not in 1..16 MiB.
   * @throws {Deno.errors.AddrInUse} When the listening address is taken (and other errors of
   * `Deno.listen`).
   */
  constructor(options: PacketRelayOptions) {
    const listenPort = options.listen?.port ?? 0;
    const { udpPort } = options.target;
    checkPort(listenPort, 0, "listen.port");
    checkPort(options.target.port, 1, "target.port");
    if (udpPort !== undefined) checkPort(udpPort, 1, "target.udpPort");
    this.#maxFrameSize = checkMaxFrameSize(options.maxFrameSize);
    this.#schemas = options.schemas;
    this.target = {
      hostname: options.target.hostname ?? "127.0.0.1",
      port: options.target.port,
      ...(udpPort === undefined ? {} : { udpPort }),
    };
    this.#onEvent = options.onEvent ?? (() => {});
    this.#listener = Deno.listen({
      hostname: options.listen?.hostname ?? "127.0.0.1",
      port: listenPort,
      transport: "tcp",
    });
    this.addr = this.#listener.addr;
    this.#sessions = new UdpSessionTable({
      listenPort: this.addr.port,
      targetPort: this.target.port,
      udpPort,
    });
    this.#datagramDecoder = new DatagramDecoder({
      schemas: this.#schemas,
      maxFrameSize: this.#maxFrameSize,
      lookup: (session) => this.#sessions.lookup(session),
    });
    this.ready = udpPort === undefined ? Promise.resolve() : this.#relayDatagrams(udpPort);
    this.finished = this.#run();
    // Failures are the caller's to see through `ready` and `finished`; close() must not throw.
    this.ready.catch(() => {});
    this.finished.catch(() => {});
  }

  /**
   * Stops listening, closes every relayed connection (both sides) and waits until all of them
   * have ended.
   *
   * @returns A promise that resolves when the relay has stopped.
   */
  async close(): Promise<void> {
    this.#stopListening();
    for (const connection of this.#connections) connection.shutdown();
    await this.#datagrams?.close();
    await this.finished.catch(() => {});
  }

  /** Closes the relay: see {@linkcode PacketRelay.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Binds UDP on the listening address and port; resolves once bound. */
  async #relayDatagrams(udpPort: number): Promise<void> {
    const failed = (error: Error) => {
      this.#udpFailure ??= error;
      this.#stopListening();
    };
    this.#datagrams = new DatagramRelay({
      listen: { hostname: this.addr.hostname, port: this.addr.port },
      target: { hostname: this.target.hostname, port: udpPort },
      decoder: this.#datagramDecoder,
      time: () => this.#time(),
      emit: (event) => this.#emit(event),
      onFailure: failed,
    });
    await this.#datagrams.ready.catch((error: Error) => {
      failed(error);
      throw error;
    });
  }

  /** Runs until the listeners stop and every connection has ended. */
  async #run(): Promise<void> {
    try {
      await this.#accept();
    } finally {
      await this.#datagrams?.close();
    }
    if (this.#udpFailure !== undefined) throw this.#udpFailure;
  }

  #stopListening(): void {
    this.#closing = true;
    try {
      this.#listener.close();
    } catch {
      // Closed already.
    }
  }

  async #accept(): Promise<void> {
    const running = new Set<Promise<void>>();
    try {
      for await (const client of this.#listener) {
        const relayed = this.#relay(client);
        running.add(relayed);
        relayed.then(() => running.delete(relayed));
      }
    } finally {
      this.#stopListening();
      for (const connection of this.#connections) connection.shutdown();
      await Promise.all(running);
    }
  }

  /** Relays one accepted connection until both sides are done; never rejects. */
  async #relay(client: Deno.TcpConn): Promise<void> {
    const id = ++this.#accepted;
    const decoder = new RelayDecoder({
      conn: id,
      schemas: this.#schemas,
      maxFrameSize: this.#maxFrameSize,
      nextNumber: () => ++this.#packets,
      emit: (event) => {
        this.#emit(event);
        if (event.type !== "packet" || event.direction !== "S>C") return;
        const message = this.#sessions.learn(event.entry.frame, { conn: id, names: decoder.names });
        if (message !== undefined) {
          this.#emit({ type: "warning", conn: id, time: event.time, message });
        }
      },
    });
    const connection = new RelayedConnection(id, client, decoder);
    this.#connections.add(connection);
    try {
      if (this.#closing) return;
      if (!await this.#connectTarget(connection)) return;
      await Promise.all([this.#pump(connection, "C>S"), this.#pump(connection, "S>C")]);
      connection.shutdown();
      const { decoder } = connection;
      this.#emit({
        type: "close",
        conn: connection.id,
        time: this.#time(),
        bytes: { "C>S": decoder.received("C>S"), "S>C": decoder.received("S>C") },
      });
    } finally {
      connection.shutdown();
      this.#connections.delete(connection);
      this.#sessions.forget(id);
    }
  }

  /** Connects to the target; on failure reports the connection closed and returns false. */
  async #connectTarget(connection: RelayedConnection): Promise<boolean> {
    const target = formatAddress(this.target);
    try {
      connection.server = await Deno.connect({
        ...this.target,
        transport: "tcp",
        signal: connection.abort.signal,
      });
    } catch (error) {
      const reason = connection.closed ? "the relay closed first" : messageOf(error);
      this.#emit({
        type: "close",
        conn: connection.id,
        time: this.#time(),
        bytes: { "C>S": 0, "S>C": 0 },
        error: `cannot connect to ${target}: ${reason}`,
      });
      return false;
    }
    if (connection.closed) {
      connection.server.close();
      return false;
    }
    // Game traffic is many small frames: the relay must not hold them back (Nagle).
    connection.client.setNoDelay(true);
    connection.server.setNoDelay(true);
    this.#emit({
      type: "open",
      conn: connection.id,
      time: this.#time(),
      client: formatAddress(connection.client.remoteAddr),
      server: formatAddress(connection.server.remoteAddr),
    });
    return true;
  }

  /** Forwards one direction until its sender ends or a side fails. */
  async #pump(connection: RelayedConnection, direction: RelayDirection): Promise<void> {
    const up = direction === "C>S";
    const from = up ? connection.client : connection.server!;
    const to = up ? connection.server! : connection.client;
    const sender = up ? "client" : "server";
    const receiver = up ? "server" : "client";
    const buffer = new Uint8Array(READ_SIZE);
    while (true) {
      let n: number | null;
      try {
        n = await from.read(buffer);
      } catch (error) {
        this.#fail(connection, direction, `the ${sender}'s side failed: ${messageOf(error)}`);
        return;
      }
      if (connection.closed) return;
      if (n === null) {
        connection.decoder.end(direction, this.#time());
        this.#emit({
          type: "end",
          conn: connection.id,
          direction,
          time: this.#time(),
          how: "end",
          message: `the ${sender} closed its side; closing the ${receiver}'s write side`,
        });
        try {
          await to.closeWrite();
        } catch {
          // The receiver is gone: its own direction reports that.
        }
        return;
      }
      const data = buffer.slice(0, n);
      // Start forwarding first, decode while the bytes are on their way.
      const written = writeAll(to, data);
      connection.decoder.push(direction, data, this.#time());
      try {
        await written;
      } catch (error) {
        this.#fail(connection, direction, `cannot forward to the ${receiver}: ${messageOf(error)}`);
        return;
      }
    }
  }

  /** Reports a failed direction and closes both sides (unless the relay closed them). */
  #fail(connection: RelayedConnection, direction: RelayDirection, message: string): void {
    if (connection.closed) return;
    connection.decoder.end(direction, this.#time());
    this.#emit({
      type: "end",
      conn: connection.id,
      direction,
      time: this.#time(),
      how: "reset",
      message: `${message}; closing both sides`,
    });
    connection.shutdown();
  }

  #emit(event: RelayEvent): void {
    try {
      this.#onEvent(event);
    } catch (error) {
      reportError(error);
    }
  }

  #time(): number {
    return (performance.now() - this.#started) / 1000;
  }
}

function checkPort(port: number, min: number, name: string): void {
  if (!Number.isInteger(port) || port < min || port > 65535) {
    throw new RangeError(`${name} must be an integer in ${min}..65535, got ${port}`);
  }
}

async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
}

function formatAddress(addr: { hostname: string; port: number }): string {
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
