/**
 * The game server: listens on TCP (or TLS), accepts connections, and holds the namespaces.
 *
 * @module
 */

import {
  encodeFrame,
  ErrorCode,
  ErrorMessage,
  LimitExceededError,
  type LimitName,
} from "../protocol/mod.ts";
import { AckIds } from "../session/ack_tracker.ts";
import type { DisconnectReason } from "../session/disconnect_reason.ts";
import type { DefaultEvents, EventsMap } from "../session/event_map.ts";
import { OutgoingEventNames } from "../session/event_names.ts";
import { Listeners } from "../session/listeners.ts";
import { type TimerEntry, TimerQueue } from "../session/timer_queue.ts";
import { END_OF_TICK, type FlushScheduler, FlushTicker } from "../transport/flush_scheduler.ts";
import { closeWithLastWords } from "../transport/last_words.ts";
import { StreamTransport } from "../transport/stream_transport.ts";
import type { TransportAddress } from "../transport/transport.ts";
import { Namespace, type NamespaceOptions } from "./namespace.ts";
import { ServerConnection } from "./server_connection.ts";
import type { ServerCore, ServerStats } from "./server_core.ts";
import {
  type GameSocketServerOptions,
  type ResolvedServerOptions,
  type ResolvedUdpOptions,
  resolveServerOptions,
} from "./server_options.ts";
import type { Middleware } from "./middleware.ts";
import type { ServerSocket } from "./server_socket.ts";
import { ServerUdp } from "./server_udp.ts";
import { RecoverableSessions } from "../session/recoverable_sessions.ts";

/** The events of a {@linkcode GameSocketServer}. */
export interface GameSocketServerEvents<Socket> {
  /** A socket connected to `/` (every connection has one). */
  connection: (socket: Socket) => void;
  /** A dynamic namespace was made, before its first socket connects: attach handlers here. */
  namespace: (nsp: Namespace) => void;
  /**
   * A connection closed and released its resources, whether or not it ever connected a
   * namespace: how handshake timeouts, refused versions and failed TLS handshakes show.
   */
  connection_closed: (info: ConnectionClosedInfo) => void;
  /**
   * A client proved its UDP address with a hello: its first, or a new one after its address
   * changed (NAT rebinding). From now on `unreliable` and `sequenced` emits reach it by UDP.
   */
  udp_bound: (socket: Socket, info: UdpBoundInfo) => void;
  /**
   * A session whose connection dropped ended without its client's return (the recovery window
   * passed, or the server closed): its sockets have left (`expired`).
   */
  session_expired: (info: { readonly sessionId: string }) => void;
  /** A handler failed and nothing closer listens for its errors. */
  error: (error: unknown) => void;
  /** The server closed. */
  close: () => void;
}

const EVENTS = new Set([
  "connection",
  "namespace",
  "connection_closed",
  "udp_bound",
  "session_expired",
  "error",
  "close",
]);

/** What the server's `udp_bound` event tells. */
export interface UdpBoundInfo {
  /** The client's UDP address. */
  readonly address: TransportAddress;
  /** Whether it replaced an address bound before (the client's address changed). */
  readonly rebound: boolean;
}

/** What the server's `connection_closed` event tells. */
export interface ConnectionClosedInfo {
  /** The peer's address. */
  readonly address: TransportAddress;
  /** Why it closed; every socket of the connection disconnected with the same reason. */
  readonly reason: DisconnectReason;
  /** The read or write error (a reset, a failed TLS handshake) or the protocol fault, if any. */
  readonly error?: Error;
}

/** Tells whether a namespace name is allowed by a dynamic namespace rule. */
export type NamespacePattern = RegExp | ((name: string) => boolean);

/**
 * A game server: TCP (or TLS) connections, each with namespaces multiplexed on it, rooms inside
 * namespaces, events with acknowledgements, heartbeats and backpressure.
 *
 * @typeParam Listen Events clients send.
 * @typeParam Emit Events the server sends.
 * @typeParam Data The type of each socket's `data`.
 *
 * @example
 * ```ts
 * import { GameSocketServer } from "@game-socket/game-socket/server";
 *
 * const server = new GameSocketServer({ hostname: "127.0.0.1", port: 0 });
 * const home = server.of("/home");
 * home.on("connection", (socket) => {
 *   socket.on("hello", (message, { room }) => {
 *     if (room !== undefined) home.to(room).emit("hello", message, { sender: socket.id });
 *   });
 * });
 * const address = await server.listen();
 * console.log(`listening on ${address.hostname}:${address.port}`);
 * await server.close();
 * ```
 */
export class GameSocketServer<
  Listen extends EventsMap = DefaultEvents,
  Emit extends EventsMap = DefaultEvents,
  Data = Record<string, unknown>,
> {
  /** The options, every default filled in. */
  readonly options: ResolvedServerOptions;
  #core: ServerCore;
  #listeners: Listeners;
  #namespaces = new Map<string, Namespace>();
  #patterns: NamespacePattern[] = [];
  #connections = new Set<ServerConnection>();
  /** How many of `#connections` come from each remote address, and each one's address. */
  #perAddress = new Map<string, number>();
  #addressOf = new Map<ServerConnection, string>();
  /** Connections turned away at accept, until each is closed. */
  #turningAway = new Set<Promise<void>>();
  #pending = new Set<ServerConnection>();
  #closing: Promise<void> | undefined;
  #listener: Deno.Listener | undefined;
  #accepting: Promise<void> | undefined;
  #sweep: TimerEntry | undefined;
  #timers: TimerQueue;
  #flusher: FlushScheduler;
  #udp: ServerUdp | undefined;
  /** Sessions whose connection dropped, waiting for their clients (with session recovery). */
  #kept: RecoverableSessions<ServerConnection> | undefined;
  /** Every session by id, waiting or not, for a client that comes back before its drop shows. */
  #live = new Map<string, ServerConnection>();
  #state: "new" | "listening" | "closing" | "closed" = "new";
  #stats: ServerStats = {
    connections: 0,
    accepted: 0,
    refused: 0,
    rateLimited: 0,
    framesEncoded: 0,
    bytesIn: 0,
    bytesOut: 0,
  };

  /**
   * Creates a server. Nothing listens until {@linkcode GameSocketServer.listen}.
   *
   * @param options The options; every one has a default.
   * @throws {RangeError} When an option is out of range.
   */
  constructor(options: GameSocketServerOptions = {}) {
    this.options = resolveServerOptions(options);
    const recovery = this.options.recovery;
    if (recovery !== undefined) this.#kept = new RecoverableSessions(recovery.window);
    this.#listeners = new Listeners((error, event) => {
      if (event === "error") console.error(error);
      else this.#reportError(error);
    });
    this.#timers = new TimerQueue((error) => this.#reportError(error));
    this.#flusher = this.options.sendTick > 0
      ? new FlushTicker(this.options.sendTick)
      : END_OF_TICK;
    const eventNames = new OutgoingEventNames();
    const ackIds = new AckIds();
    const resolved = this.options;
    const stats = this.#stats;
    // deno-lint-ignore no-this-alias
    const server = this;
    this.#core = {
      get udp(): ServerUdp | undefined {
        return server.#udp;
      },
      udpBound: (connection, address, rebound) => {
        const socket = connection.root;
        if (socket !== undefined) this.#listeners.emit("udp_bound", socket, { address, rebound });
      },
      options: resolved,
      eventNames,
      ackIds,
      timers: this.#timers,
      stats,
      socketLink: {
        timers: this.#timers,
        ackTimeout: resolved.ackTimeout,
        maxFrameSize: () => resolved.maxFrameSize,
        nextAckId: () => ackIds.next(),
        eventId: (event) => eventNames.id(event),
        fallback: resolved.udp?.fallback ?? "tcp",
        maxPendingAcks: resolved.maxPendingAcks,
        send: (socket, frame, options, event) =>
          (socket as ServerSocket).connection.send(frame, options, event),
        encoded: () => stats.framesEncoded++,
      },
      namespaceFor: (name) => this.#namespaceFor(name),
      namespaceEmptied: (nsp) => {
        if (this.#namespaces.get(nsp.name) === nsp) this.#namespaces.delete(nsp.name);
      },
      reportError: (error) => this.#reportError(error),
      connectionOpened: (connection) => {
        this.#pending.delete(connection);
      },
      connectionClosed: (connection, reason, error) => {
        this.#untrack(connection);
        this.#pending.delete(connection);
        const address = connection.transport.remoteAddress;
        this.#listeners.emit(
          "connection_closed",
          error === undefined ? { address, reason } : { address, reason, error },
        );
      },
      keepSession: (session, id, token) => this.#kept?.keep(id, session, token),
      claimSession: (id, token, received) => {
        const claim = this.#kept?.claim(id, token);
        if (claim?.ok === false && claim.reason === "expired") {
          // Its window passed before the sweep came by: end it now, so that what it held (its
          // room seats) is free for the fresh session its client is about to get.
          for (const gone of this.#kept?.expire() ?? []) gone.expire();
        }
        let session = claim?.ok ? claim.session : undefined;
        if (claim?.ok === false && claim.reason === "unknown") {
          // Not waiting: perhaps its old connection has not been seen to drop yet.
          const live = this.#live.get(id);
          if (live?.takeOver(token)) session = live;
        }
        if (session === undefined) return undefined;
        if (session.canResume(received)) return session;
        session.expire();
        return undefined;
      },
      sessionOpened: (session) => {
        this.#live.set(session.sessionId!, session);
      },
      connectionResumed: (connection, session) => {
        this.#untrack(connection);
        this.#pending.delete(connection);
        this.#track(session);
      },
      forgetSession: (session) => {
        const id = session.sessionId;
        if (id === undefined) return;
        this.#kept?.forget(id);
        if (this.#live.get(id) === session) this.#live.delete(id);
      },
      sessionExpired: (session) => {
        this.#listeners.emit("session_expired", { sessionId: session.sessionId! });
      },
    };
    this.#namespaces.set("/", new Namespace("/", this.#core));
  }

  /** The address the server listens on, once listening. */
  get address(): Deno.NetAddr | undefined {
    return this.#listener?.addr as Deno.NetAddr | undefined;
  }

  /** The UDP port, once listening, when the server has a UDP channel (the `udp` option). */
  get udpPort(): number | undefined {
    return this.#udp?.port;
  }

  /** Counters: connections, refusals, frames encoded, bytes read and written. */
  get stats(): Readonly<ServerStats> {
    return this.#stats;
  }

  /** The namespaces, by name. */
  get namespaces(): ReadonlyMap<string, Namespace> {
    return this.#namespaces;
  }

  /** The root namespace, `/`. */
  get root(): Namespace<Listen, Emit, Data> {
    return this.#namespaces.get("/") as unknown as Namespace<Listen, Emit, Data>;
  }

  /**
   * Returns a namespace, creating it when it does not exist.
   *
   * @param name The namespace's name: `/` followed by anything.
   * @param options The namespace's own schemas, when it has them; only when it is first made.
   * @returns The namespace.
   * @throws {TypeError} When the name does not start with `/`, or schemas are given for `/` or
   *   for a namespace that exists.
   */
  of<L extends EventsMap = Listen, E extends EventsMap = Emit, D = Data>(
    name: string,
    options?: NamespaceOptions,
  ): Namespace<L, E, D> {
    checkNamespaceName(name);
    let nsp = this.#namespaces.get(name);
    if (options?.schemas !== undefined) {
      if (name === "/") throw new TypeError(`"/" uses the server's schemas option`);
      if (nsp !== undefined) {
        throw new TypeError(`Namespace ${name} exists: give its schemas when it is first made`);
      }
    }
    if (nsp === undefined) {
      this.#namespaces.set(name, nsp = new Namespace(name, this.#core, options));
    }
    return nsp as unknown as Namespace<L, E, D>;
  }

  /**
   * Adds a middleware of `/`: it decides every connection's first connect, before any socket
   * exists, from the client's auth payload and address (`server.root.use`). A refusal closes the
   * connection; the client's connect fails with `ConnectError` `unauthorized` and the reason.
   *
   * @param middleware The middleware; several run in the order they were added.
   * @returns This server.
   */
  use(middleware: Middleware<Data>): this {
    this.root.use(middleware);
    return this;
  }

  /**
   * Lets clients connect to namespaces that do not exist yet when their name matches: the
   * namespace is made on the first connect (announced by the `namespace` event, where handlers
   * are attached), and removed when its last socket leaves.
   *
   * @param pattern A regular expression or a predicate on the name.
   * @returns This server.
   */
  allowNamespaces(pattern: NamespacePattern): this {
    this.#patterns.push(pattern);
    return this;
  }

  /**
   * Adds a listener: `connection` (a socket of `/`), `namespace`, `connection_closed`, `error`,
   * `close`.
   *
   * @param event The event.
   * @param listener The listener.
   * @returns This server.
   * @throws {TypeError} For an event servers do not have.
   */
  on<E extends keyof GameSocketServerEvents<ServerSocket<Listen, Emit, Data>>>(
    event: E,
    listener: GameSocketServerEvents<ServerSocket<Listen, Emit, Data>>[E],
  ): this {
    if (!EVENTS.has(event)) throw new TypeError(`Servers have no "${event}" event`);
    if (event === "connection") this.root.on("connection", listener as never);
    else this.#listeners.on(event, listener);
    return this;
  }

  /**
   * Adds a listener that runs once.
   *
   * @param event The event.
   * @param listener The listener.
   * @returns This server.
   * @throws {TypeError} For an event servers do not have.
   */
  once<E extends keyof GameSocketServerEvents<ServerSocket<Listen, Emit, Data>>>(
    event: E,
    listener: GameSocketServerEvents<ServerSocket<Listen, Emit, Data>>[E],
  ): this {
    if (!EVENTS.has(event)) throw new TypeError(`Servers have no "${event}" event`);
    if (event === "connection") this.root.once("connection", listener as never);
    else this.#listeners.once(event, listener);
    return this;
  }

  /**
   * Removes a listener, or all of an event's.
   *
   * @param event The event.
   * @param listener The listener; every one of the event when absent.
   * @returns This server.
   */
  off<E extends keyof GameSocketServerEvents<ServerSocket<Listen, Emit, Data>>>(
    event: E,
    listener?: GameSocketServerEvents<ServerSocket<Listen, Emit, Data>>[E],
  ): this {
    if (event === "connection") this.root.off("connection", listener as never);
    else this.#listeners.off(event, listener);
    return this;
  }

  /**
   * Starts listening: on TCP (or TLS), and on UDP when the `udp` option asks for it.
   *
   * @returns The TCP address it is bound to (with the real port when `port` was 0).
   * @throws {TypeError} When the server is listening or closed already.
   * @throws {Deno.errors.AddrInUse} When the port is taken.
   * @throws {Error} When the UDP port cannot be bound (the TCP listener is closed again).
   */
  async listen(): Promise<Deno.NetAddr> {
    if (this.#state !== "new" || this.#listener !== undefined) {
      throw new TypeError("The server is listening or closed already");
    }
    const { hostname, port, tls, udp } = this.options;
    const listener = tls === undefined
      ? Deno.listen({ hostname, port, transport: "tcp" })
      : Deno.listenTls({ hostname, port, cert: tls.cert, key: tls.key });
    this.#listener = listener;
    const address = listener.addr as Deno.NetAddr;
    if (udp !== undefined) {
      try {
        this.#udp = await this.#bindUdp(udp, address.port);
      } catch (error) {
        listener.close();
        this.#listener = undefined;
        this.#state = "closed";
        throw error;
      }
      this.#stats.udp = this.#udp.stats;
    }
    this.#state = "listening";
    this.#accepting = this.#accept(listener);
    this.#scheduleSweep();
    return address;
  }

  /**
   * Binds UDP: on the TCP port's number by default (announced as "the same port"); when that is
   * taken and the TCP port was chosen freely, on any free port (announced as itself).
   */
  async #bindUdp(udp: ResolvedUdpOptions, tcpPort: number): Promise<ServerUdp> {
    const hostname = udp.hostname ?? this.options.hostname;
    let endpoint: ServerUdp;
    if (udp.port !== undefined) {
      endpoint = await ServerUdp.bind(hostname, udp.port, udp, this.#flusher);
    } else {
      try {
        endpoint = await ServerUdp.bind(hostname, tcpPort, udp, this.#flusher);
      } catch (error) {
        if (this.options.port !== 0) throw error;
        endpoint = await ServerUdp.bind(hostname, 0, udp, this.#flusher);
      }
    }
    endpoint.announcedPort = udp.publicPort ?? (endpoint.port === tcpPort ? 0 : endpoint.port);
    return endpoint;
  }

  /**
   * Closes the server: stops accepting, tells every connection (`server shutting down`), lets
   * queued writes drain for up to `closeTimeout`, and resolves when every connection, timer and
   * the listener are released.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state = "closing";
    try {
      this.#listener?.close();
    } catch {
      // Closed already.
    }
    await this.#accepting;
    const closing = [...this.#connections].map((c) => c.close("server shutting down"));
    await Promise.all([...closing, ...this.#turningAway]);
    for (const session of this.#kept?.drain() ?? []) session.expire();
    if (this.#sweep !== undefined) this.#timers.cancel(this.#sweep);
    this.#timers.clear();
    if (this.#flusher instanceof FlushTicker) this.#flusher.stop();
    await this.#udp?.close();
    this.#state = "closed";
    this.#listeners.emit("close");
  }

  /** Same as `close()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    const secure = this.options.tls !== undefined;
    for (let accepted = 1;; accepted++) {
      // A burst of connections (a flood, or every client coming back at once) is taken in
      // slices, letting the open connections be served in between.
      if (accepted % ACCEPT_SLICE === 0) await new Promise((resolve) => setTimeout(resolve, 0));
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#state === "listening") this.#reportError(error);
        if (this.#state !== "listening" || error instanceof Deno.errors.BadResource) return;
        continue;
      }
      if (this.#state !== "listening") {
        closeQuietly(conn);
        continue;
      }
      const address = (conn.remoteAddr as Deno.NetAddr).hostname;
      const { maxConnections, maxConnectionsPerAddress } = this.options;
      if (this.#connections.size >= maxConnections) {
        this.#turnAway(conn, "connections", maxConnections);
        continue;
      }
      if ((this.#perAddress.get(address) ?? 0) >= maxConnectionsPerAddress) {
        this.#turnAway(conn, "connections_per_address", maxConnectionsPerAddress);
        continue;
      }
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      this.#stats.accepted++;
      const transport: StreamTransport = new StreamTransport(conn, {
        // Message frames on a channel resolve against the handling connection's `schemasOf`.
        decode: { schemas: this.options.schemas, maxFrameSize: this.options.maxFrameSize },
        sendQueueLimit: this.options.sendQueueLimit,
        readBufferSize: this.options.readBufferSize,
        secure,
        totals: this.#stats,
        flush: this.#flusher,
      });
      const connection: ServerConnection = new ServerConnection(this.#core, transport);
      this.#track(connection);
      this.#pending.add(connection);
    }
  }

  /**
   * Refuses an accepted connection over a connection limit: it is told why (an `Error` frame,
   * `LimitExceeded`) and closed, and `connection_closed` reports it.
   */
  #turnAway(conn: Deno.Conn, limit: LimitName, max: number): void {
    this.#stats.refused++;
    const message = limit === "connections"
      ? `The server has ${max} connections, its most`
      : `The server has ${max} connections from this address, its most`;
    const error = new LimitExceededError(limit, max, message);
    const frame = encodeFrame(ErrorMessage, {
      code: ErrorCode.LimitExceeded,
      message,
      namespace: "/",
      limit,
    });
    const done = closeWithLastWords(conn, frame, TURN_AWAY_TIMEOUT).then(() => {
      this.#turningAway.delete(done);
    });
    this.#turningAway.add(done);
    const address = conn.remoteAddr as Deno.NetAddr;
    this.#listeners.emit("connection_closed", { address, reason: "limit exceeded", error });
  }

  /** Counts a connection in, with its remote address. */
  #track(connection: ServerConnection): void {
    if (this.#connections.has(connection)) return;
    this.#connections.add(connection);
    this.#stats.connections = this.#connections.size;
    const address = connection.transport.remoteAddress.hostname;
    this.#addressOf.set(connection, address);
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
  }

  /** Counts a connection out. */
  #untrack(connection: ServerConnection): void {
    if (!this.#connections.delete(connection)) return;
    this.#stats.connections = this.#connections.size;
    const address = this.#addressOf.get(connection)!;
    this.#addressOf.delete(connection);
    const left = this.#perAddress.get(address)! - 1;
    if (left === 0) this.#perAddress.delete(address);
    else this.#perAddress.set(address, left);
  }

  #scheduleSweep(): void {
    const o = this.options;
    const shortest = Math.min(
      o.heartbeatInterval,
      o.heartbeatTimeout,
      o.handshakeTimeout,
      o.idleTimeout > 0 ? o.idleTimeout : Infinity,
    );
    const every = Math.max(10, Math.min(1000, Math.floor(shortest / 4)));
    const sweep = () => {
      const now = performance.now();
      const connections = [...this.#connections];
      // In slices, each its own task: thousands of handshake timeouts at once (connections that
      // never spoke) must not stall everyone else's reads.
      const slice = (from: number) => {
        const end = Math.min(connections.length, from + SWEEP_SLICE);
        for (let i = from; i < end; i++) connections[i]!.tick(now);
        if (end < connections.length) {
          this.#sweep = this.#timers.schedule(0, () => slice(end));
          return;
        }
        for (const session of this.#kept?.expire() ?? []) session.expire();
        if (this.#state === "listening") this.#sweep = this.#timers.schedule(every, sweep);
      };
      slice(0);
    };
    this.#sweep = this.#timers.schedule(every, sweep);
  }

  #namespaceFor(name: string): Namespace | undefined {
    const known = this.#namespaces.get(name);
    if (known !== undefined || this.#state !== "listening") return known;
    const allowed = this.#patterns.some((p) => typeof p === "function" ? p(name) : p.test(name));
    if (!allowed) return undefined;
    const nsp = new Namespace(name, this.#core, {}, true);
    this.#namespaces.set(name, nsp);
    this.#listeners.emit("namespace", nsp);
    return nsp;
  }

  #reportError(error: unknown): void {
    if (this.#listeners.has("error")) this.#listeners.emit("error", error);
    else console.error("game-socket server:", error);
  }
}

/** Connections the sweep checks in one task, and accepted in a row, before others get a turn. */
const SWEEP_SLICE = 64;
const ACCEPT_SLICE = 8;

/** Milliseconds a connection turned away at accept has to read why before it is closed. */
const TURN_AWAY_TIMEOUT = 1000;

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Gone already.
  }
}

function checkNamespaceName(name: string): void {
  if (typeof name !== "string" || !name.startsWith("/") || name.length > 255) {
    throw new TypeError(`A namespace name starts with "/" and has at most 255 characters: ${name}`);
  }
}
