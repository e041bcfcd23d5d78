/**
 * The game client: one TCP (or TLS) connection to a game server, with namespace sockets
 * multiplexed on it.
 *
 * @module
 */

import { ConnectError } from "../session/errors.ts";
import type { DefaultEvents, EventsMap } from "../session/event_map.ts";
import { Listeners } from "../session/listeners.ts";
import { TimerQueue } from "../session/timer_queue.ts";
import type { TransportStats } from "../transport/transport.ts";
import { ClientConnection } from "./client_connection.ts";
import {
  CLIENT_EVENTS,
  type ClientState,
  type ConnectOptions,
  type GameSocketClientEvents,
  type NamespaceConnectOptions,
} from "./client_events.ts";
import {
  type GameSocketClientOptions,
  resolveClientOptions,
  type ResolvedClientOptions,
} from "./client_options.ts";
import type { ClientSocket } from "./client_socket.ts";
import type { ClientUdpStats } from "./client_udp.ts";
import { openConnection } from "./open_connection.ts";

/**
 * A game client: one connection, many namespaces.
 *
 * @typeParam Listen Events the server sends.
 * @typeParam Emit Events the client sends.
 *
 * @example
 * ```ts ignore
 * import { GameSocketClient } from "@game-socket/game-socket/client";
 *
 * const client = new GameSocketClient();
 * await client.connect("127.0.0.1", 3103);
 * const home = await client.of("/home").ready;
 * home.on("hello", (message, { sender }) => console.log(`${sender}: ${message}`));
 * await home.join("lobby");
 * home.to("lobby").emit("hello", "hello all");
 * ```
 */
export class GameSocketClient<
  Listen extends EventsMap = DefaultEvents,
  Emit extends EventsMap = DefaultEvents,
> {
  /** The options, every default filled in. */
  readonly options: ResolvedClientOptions;
  #listeners: Listeners;
  #timers: TimerQueue;
  /** Where the client is before it has a connection (or when it never got one). */
  #phase: "idle" | "opening" | "closed" = "idle";
  #connection: ClientConnection<Listen, Emit> | undefined;
  #closed: Promise<void> | undefined;
  #connectingAbort: AbortController | undefined;

  /**
   * Creates a client. Nothing connects until {@linkcode GameSocketClient.connect}.
   *
   * @param options The options; every one has a default.
   * @throws {RangeError} When an option is out of range.
   */
  constructor(options: GameSocketClientOptions = {}) {
    this.options = resolveClientOptions(options);
    this.#listeners = new Listeners((error, event) => {
      if (event === "error") console.error(error);
      else this.#reportError(error);
    });
    this.#timers = new TimerQueue((error) => this.#reportError(error));
  }

  /** The client's state. */
  get state(): ClientState {
    const connection = this.#connection;
    if (connection !== undefined) return connection.state;
    return this.#phase === "opening" ? "connecting" : this.#phase;
  }

  /** The socket of `/`, once `connect` was called. */
  get root(): ClientSocket<Listen, Emit> | undefined {
    return this.#connection?.root;
  }

  /** The last and smoothed round trips of the client's pings, in milliseconds, once measured. */
  get rtt(): { readonly last: number | undefined; readonly smoothed: number | undefined } {
    return this.#connection?.rtt ?? { last: undefined, smoothed: undefined };
  }

  /** Traffic counters of the connection, once connected. */
  get stats(): Readonly<TransportStats> | undefined {
    return this.#connection?.stats;
  }

  /**
   * The UDP path: its state (`binding`, `open`, `failed`), datagrams sent, received and dropped
   * by reason, and round trips over UDP. `undefined` before the handshake, and when the server
   * offers no UDP or the `udp` option is `false`.
   */
  get udp(): ClientUdpStats | undefined {
    return this.#connection?.udp;
  }

  /**
   * Adds a listener.
   *
   * @param event The event.
   * @param listener The listener.
   * @returns This client.
   * @throws {TypeError} For an event clients do not have.
   */
  on<E extends keyof GameSocketClientEvents>(event: E, listener: GameSocketClientEvents[E]): this {
    if (!CLIENT_EVENTS.has(event)) throw new TypeError(`Clients have no "${event}" event`);
    this.#listeners.on(event, listener);
    return this;
  }

  /**
   * Adds a listener that runs once.
   *
   * @param event The event.
   * @param listener The listener.
   * @returns This client.
   */
  once<E extends keyof GameSocketClientEvents>(
    event: E,
    listener: GameSocketClientEvents[E],
  ): this {
    if (!CLIENT_EVENTS.has(event)) throw new TypeError(`Clients have no "${event}" event`);
    this.#listeners.once(event, listener);
    return this;
  }

  /**
   * Removes a listener, or all of an event's.
   *
   * @param event The event.
   * @param listener The listener; every one of the event when absent.
   * @returns This client.
   */
  off<E extends keyof GameSocketClientEvents>(
    event: E,
    listener?: GameSocketClientEvents[E],
  ): this {
    this.#listeners.off(event, listener);
    return this;
  }

  /**
   * Connects to a server and completes the handshake of `/`.
   *
   * @param hostname The server's host.
   * @param port The server's port.
   * @param options Credentials.
   * @returns The socket of `/`.
   * @throws {ConnectError} When the connection or the handshake fails, or times out.
   * @throws {TypeError} When the client was connected before.
   */
  async connect(
    hostname: string,
    port: number,
    options: ConnectOptions = {},
  ): Promise<ClientSocket<Listen, Emit>> {
    if (this.state !== "idle") throw new TypeError("A client connects once; make a new one");
    this.#phase = "opening";
    const abort = this.#connectingAbort = new AbortController();
    const timer = this.#timers.schedule(this.options.connectTimeout, () => abort.abort());
    let conn: Deno.Conn;
    try {
      conn = await openConnection(hostname, port, this.options, abort.signal);
    } catch (error) {
      this.#timers.cancel(timer);
      // close() aborts the connect too, and has set the phase already.
      const closedMeanwhile = this.#phase !== "opening";
      this.#phase = "closed";
      this.#timers.clear();
      if (closedMeanwhile) {
        throw new ConnectError("closed", "/", "The client was closed while connecting", {
          cause: error,
        });
      }
      const timedOut = abort.signal.aborted;
      throw new ConnectError(
        timedOut ? "timeout" : "transport",
        "/",
        timedOut
          ? `No connection to ${hostname}:${port} within ${this.options.connectTimeout} ms`
          : `Cannot connect to ${hostname}:${port}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    this.#timers.cancel(timer);
    this.#connectingAbort = undefined;
    if (this.#phase !== "opening") {
      conn.close();
      throw new ConnectError("closed", "/", "The client was closed while connecting");
    }
    const connection = this.#connection = new ClientConnection<Listen, Emit>(
      conn,
      this.options,
      this.#timers,
      {
        emit: (event, ...args) => void this.#listeners.emit(event, ...args),
        reportError: (error) => this.#reportError(error),
        close: () => void this.close(),
        dial: (signal) => openConnection(hostname, port, this.options, signal),
      },
    );
    connection.start();
    this.#listeners.emit("open");
    if (connection.state !== "connecting") {
      // An `open` listener closed the client.
      await this.close();
      throw new ConnectError("closed", "/", "The client was closed while connecting");
    }
    const root = connection.connectRoot(options);
    try {
      await root.ready;
    } catch (error) {
      await this.close();
      throw error;
    }
    return root;
  }

  /**
   * Connects a namespace on the same connection, or returns its socket when it is connected or
   * connecting. Await the socket's `ready` for the handshake.
   *
   * @param namespace The namespace's name.
   * @param options Credentials, and the namespace's own schemas when the server gives it a set.
   * @returns The namespace's socket.
   * @throws {TypeError} When the client is not open (connect first), or the name is invalid.
   */
  of(namespace: string, options: NamespaceConnectOptions = {}): ClientSocket<Listen, Emit> {
    const connection = this.#connection;
    if (connection === undefined) throw new TypeError("The client is not connected");
    return connection.of(namespace, options);
  }

  /**
   * Closes the connection gracefully: the server is told (`client disconnect`), queued writes
   * drain for up to `closeTimeout`, and every resource is released when the promise resolves.
   */
  close(): Promise<void> {
    if (this.#closed !== undefined) return this.#closed;
    this.#connectingAbort?.abort();
    const connection = this.#connection;
    if (connection === undefined) {
      this.#phase = "closed";
      this.#timers.clear();
      return this.#closed = Promise.resolve();
    }
    return this.#closed = connection.shutdown("client disconnect", true);
  }

  /** Same as `close()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #reportError(error: unknown): void {
    if (this.#listeners.has("error")) this.#listeners.emit("error", error);
    else console.error("game-socket client:", error);
  }
}
