/**
 * The game client: one TCP (or TLS) connection to a game server, with namespace sockets
 * multiplexed on it.
 *
 * @module
 */

import {
  Ack,
  ChannelTable,
  Connect,
  Disconnect,
  encodeFrame,
  ErrorCode,
  ErrorMessage,
  Event,
  EventName,
  type Frame,
  Handshake,
  MemberEntered,
  MemberLeft,
  Ping,
  Pong,
  PROTOCOL_VERSION,
  ProtocolError,
  RoomEvent,
  RoomJoined,
  RoomJoinError,
  RoomLeft,
  ROOT_CHANNEL,
  SchemaRegistry,
} from "../protocol/mod.ts";
import { AckIds } from "../session/ack_tracker.ts";
import {
  DISCONNECT_REASONS,
  type DisconnectReason,
  disconnectReasonOf,
} from "../session/disconnect_reason.ts";
import { ConnectError, type ConnectErrorCode } from "../session/errors.ts";
import type { DefaultEvents, EventsMap } from "../session/event_map.ts";
import {
  DeclaredEventIds,
  IncomingEventNames,
  OutgoingEventNames,
} from "../session/event_names.ts";
import { heartbeatClock, RoundTrip } from "../session/heartbeat.ts";
import { Listeners } from "../session/listeners.ts";
import type { JsonValue } from "../session/payload.ts";
import { type TimerEntry, TimerQueue } from "../session/timer_queue.ts";
import { StreamTransport } from "../transport/stream_transport.ts";
import {
  CLIENT_EVENTS,
  type ClientState,
  type ConnectOptions,
  type GameSocketClientEvents,
  type NamespaceConnectOptions,
} from "./client_events.ts";
import { openConnection } from "./open_connection.ts";
import type { SendStatus, TransportCloseCause, TransportStats } from "../transport/transport.ts";
import {
  type GameSocketClientOptions,
  resolveClientOptions,
  type ResolvedClientOptions,
} from "./client_options.ts";
import { type ClientLink, ClientSocket, type HandshakeInfo } from "./client_socket.ts";

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
  #state: ClientState = "idle";
  #transport: StreamTransport | undefined;
  #channels = new ChannelTable();
  #sockets = new Map<number, ClientSocket<Listen, Emit>>();
  #byName = new Map<string, ClientSocket<Listen, Emit>>();
  #draining = new Set<number>();
  /** The schemas of channels whose namespace has a set of its own. */
  #channelSchemas = new Map<number, SchemaRegistry>();
  #incoming = new IncomingEventNames();
  #outgoing = new OutgoingEventNames();
  #declared = new DeclaredEventIds();
  #roundTrip = new RoundTrip();
  #link: ClientLink;
  #serverMaxFrameSize = 65536;
  #heartbeat = { interval: 5000, timeout: 15000 };
  #lastHeard = 0;
  #lastPing = 0;
  #tick: TimerEntry | undefined;
  #closeReason: DisconnectReason | undefined;
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
    const ackIds = new AckIds();
    this.#link = {
      options: this.options,
      timers: this.#timers,
      ackTimeout: this.options.ackTimeout,
      maxFrameSize: () => this.#serverMaxFrameSize,
      nextAckId: () => ackIds.next(),
      send: (_socket, frame, volatile, event) => this.#send(frame, volatile, event),
      eventId: (event) => this.#outgoing.id(event),
      encoded: () => {},
      leave: (socket) => this.#leave(socket),
      reportError: (error) => this.#reportError(error),
    };
  }

  /** The client's state. */
  get state(): ClientState {
    return this.#state;
  }

  /** The socket of `/`, once `connect` was called. */
  get root(): ClientSocket<Listen, Emit> | undefined {
    return this.#sockets.get(ROOT_CHANNEL);
  }

  /** The last and smoothed round trips of the client's pings, in milliseconds, once measured. */
  get rtt(): { readonly last: number | undefined; readonly smoothed: number | undefined } {
    return { last: this.#roundTrip.last, smoothed: this.#roundTrip.smoothed };
  }

  /** Traffic counters of the connection, once connected. */
  get stats(): Readonly<TransportStats> | undefined {
    return this.#transport?.stats;
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
    if (this.#state !== "idle") throw new TypeError("A client connects once; make a new one");
    this.#state = "connecting";
    const abort = this.#connectingAbort = new AbortController();
    const timer = this.#timers.schedule(this.options.connectTimeout, () => abort.abort());
    let conn: Deno.Conn;
    try {
      conn = await openConnection(hostname, port, this.options.tls, abort.signal);
    } catch (error) {
      this.#timers.cancel(timer);
      // close() aborts the connect too, and has set the state already.
      const closedMeanwhile = this.#state !== "connecting";
      this.#state = "closed";
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
    if (this.#state !== "connecting") {
      conn.close();
      throw new ConnectError("closed", "/", "The client was closed while connecting");
    }
    const transport = this.#transport = new StreamTransport(conn, {
      decode: {
        schemas: this.options.schemas,
        channelSchemas: (channel) => this.#channelSchemas.get(channel),
        channels: this.#channels,
        maxFrameSize: this.options.maxFrameSize,
      },
      sendQueueLimit: this.options.sendQueueLimit,
      readBufferSize: this.options.readBufferSize,
      secure: this.options.tls !== undefined,
    });
    this.#lastHeard = performance.now();
    transport.start({
      onFrame: (frame) => this.#onFrame(frame),
      onClose: (cause) => this.#onClose(cause),
    });
    this.#listeners.emit("open");
    if (this.#state !== "connecting") {
      // An `open` listener closed the client.
      await this.close();
      throw new ConnectError("closed", "/", "The client was closed while connecting");
    }
    const root = new ClientSocket<Listen, Emit>("/", ROOT_CHANNEL, this.#link);
    this.#sockets.set(ROOT_CHANNEL, root);
    this.#byName.set("/", root);
    this.#connectTimer(root);
    transport.send(encodeFrame(Connect, {
      namespace: "/",
      channel: ROOT_CHANNEL,
      protocolVersion: PROTOCOL_VERSION,
      schemaFingerprint: this.options.schemas.fingerprint,
      ...authField(options.auth),
    }));
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
   * @param options Credentials for the namespace.
   * @returns The namespace's socket.
   * @throws {TypeError} When the client is not open (connect first), or the name is invalid.
   */
  of(namespace: string, options: NamespaceConnectOptions = {}): ClientSocket<Listen, Emit> {
    if (typeof namespace !== "string" || !namespace.startsWith("/") || namespace.length > 255) {
      throw new TypeError(`A namespace name starts with "/" and has at most 255 characters`);
    }
    const known = this.#byName.get(namespace);
    if (known !== undefined) return known;
    if (this.#state !== "open") throw new TypeError("The client is not connected");
    let channel = this.#channels.nextFreeId();
    while (this.#draining.has(channel) || this.#channels.has(channel)) channel++;
    const given = options.schemas;
    const schemas = given === undefined
      ? undefined
      : given instanceof SchemaRegistry
      ? given
      : new SchemaRegistry(given);
    this.#channels.open(channel, namespace);
    if (schemas !== undefined) this.#channelSchemas.set(channel, schemas);
    const socket = new ClientSocket<Listen, Emit>(namespace, channel, this.#link, schemas);
    this.#sockets.set(channel, socket);
    this.#byName.set(namespace, socket);
    this.#connectTimer(socket);
    this.#transport!.send(encodeFrame(Connect, {
      namespace,
      channel,
      ...(schemas === undefined ? {} : { schemaFingerprint: schemas.fingerprint }),
      ...authField(options.auth),
    }));
    return socket;
  }

  /**
   * Closes the connection gracefully: the server is told (`client disconnect`), queued writes
   * drain for up to `closeTimeout`, and every resource is released when the promise resolves.
   */
  close(): Promise<void> {
    if (this.#closed !== undefined) return this.#closed;
    this.#connectingAbort?.abort();
    if (this.#state === "connecting" && this.#transport === undefined) {
      this.#state = "closed";
      this.#timers.clear();
      return this.#closed = Promise.resolve();
    }
    return this.#closed = this.#shutdown("client disconnect", true);
  }

  /** Same as `close()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #shutdown(
    reason: DisconnectReason,
    graceful: boolean,
    error?: ConnectError,
  ): Promise<void> {
    if (this.#state === "closed" || this.#transport === undefined) {
      this.#state = "closed";
      this.#timers.clear();
      // Closed already (or closing): wait until every resource is released.
      await this.#transport?.abort();
      return;
    }
    const wasOpen = this.#state === "open";
    this.#state = "closed";
    this.#closeReason ??= reason;
    if (graceful && wasOpen) this.#transport.send(encodeFrame(Disconnect, { reason }));
    this.#teardownSockets(this.#closeReason, error);
    if (graceful) await this.#transport.close(this.options.closeTimeout);
    else await this.#transport.abort();
  }

  #teardownSockets(reason: DisconnectReason, error?: ConnectError): void {
    const sockets = [...this.#sockets.values()].reverse();
    this.#sockets.clear();
    this.#byName.clear();
    for (const socket of sockets) socket.teardown(reason, error);
  }

  #onClose(cause: TransportCloseCause): void {
    let error: ConnectError | undefined;
    if (this.#state !== "closed") {
      const reason = disconnectReasonOf(cause, "client disconnect");
      this.#closeReason ??= reason;
      if (cause.type === "protocol") {
        const mismatch = cause.error instanceof ProtocolError &&
          cause.error.code === "unsupported_version";
        error = new ConnectError(
          mismatch ? "protocol_mismatch" : "protocol_violation",
          "/",
          cause.error.message,
          { cause: cause.error },
        );
      } else if (cause.type === "error") {
        error = new ConnectError("transport", "/", cause.error.message, { cause: cause.error });
      }
      this.#state = "closed";
      this.#teardownSockets(this.#closeReason, error);
    }
    if (cause.type === "protocol" || cause.type === "error") this.#reportError(cause.error);
    this.#timers.clear();
    this.#listeners.emit("close", this.#closeReason ?? "transport close");
  }

  #send(frame: Uint8Array, volatile: boolean, event?: string): SendStatus {
    const transport = this.#transport;
    if (transport === undefined || this.#state === "closed") return "closed";
    if (event !== undefined) {
      const id = this.#outgoing.id(event);
      if (this.#declared.add(id)) {
        const status = transport.send(this.#outgoing.frame(id), volatile);
        if (status !== "queued") {
          // Not sent (a dropped volatile frame): declare it with the next frame that is.
          this.#declared.delete(id);
          return status;
        }
      }
    }
    return transport.send(frame, volatile);
  }

  // deno-lint-ignore no-explicit-any
  #leave(socket: ClientSocket<any, any>): void {
    if (socket.channel === ROOT_CHANNEL) {
      void this.close();
      return;
    }
    if (this.#sockets.get(socket.channel) !== socket) return;
    this.#sockets.delete(socket.channel);
    this.#byName.delete(socket.namespace);
    this.#draining.add(socket.channel);
    this.#transport?.send(
      encodeFrame(Disconnect, { reason: "client disconnect" }, { channel: socket.channel }),
    );
    socket.teardown("client disconnect");
  }

  #connectTimer(socket: ClientSocket<Listen, Emit>): void {
    const timeout = this.options.connectTimeout;
    const timer = this.#timers.schedule(timeout, () => {
      if (socket.connected || this.#sockets.get(socket.channel) !== socket) return;
      const error = new ConnectError(
        "timeout",
        socket.namespace,
        `No handshake of ${socket.namespace} within ${timeout} ms`,
      );
      if (socket.channel === ROOT_CHANNEL) {
        void this.#shutdown("transport close", false, error);
      } else {
        this.#release(socket);
        socket.refused(error);
      }
    });
    void socket.ready.then(() => this.#timers.cancel(timer), () => this.#timers.cancel(timer));
  }

  #release(socket: ClientSocket<Listen, Emit>): void {
    this.#sockets.delete(socket.channel);
    this.#byName.delete(socket.namespace);
    this.#channelSchemas.delete(socket.channel);
    this.#channels.close(socket.channel);
  }

  #startHeartbeat(): void {
    const { interval, timeout } = this.#heartbeat;
    const every = Math.max(10, Math.min(1000, Math.floor(Math.min(interval, timeout) / 4)));
    this.#lastPing = performance.now();
    const tick = () => {
      if (this.#state !== "open") return;
      const now = performance.now();
      if (now - this.#lastHeard >= timeout) {
        void this.#shutdown("heartbeat timeout", false);
        return;
      }
      const maxRtt = this.options.maxAverageRtt;
      if (maxRtt > 0 && (this.#roundTrip.smoothed ?? 0) > maxRtt) {
        void this.#shutdown("high latency", true);
        return;
      }
      if (now - this.#lastPing >= interval) {
        this.#lastPing = now;
        this.#transport!.send(encodeFrame(Ping, { timestamp: heartbeatClock() }));
      }
      this.#tick = this.#timers.schedule(every, tick);
    };
    this.#tick = this.#timers.schedule(every, tick);
  }

  #onFrame(frame: Frame): void {
    this.#lastHeard = performance.now();
    if (this.#state === "closed") return;
    const channel = frame.channel;
    if (this.#draining.has(channel)) {
      if (frame.type === "control" && frame.schema === Disconnect) {
        this.#draining.delete(channel);
        this.#channelSchemas.delete(channel);
        this.#channels.close(channel);
      }
      return;
    }
    if (this.#state === "connecting") {
      if (
        frame.type !== "control" || channel !== ROOT_CHANNEL ||
        (frame.schema !== Handshake && frame.schema !== ErrorMessage)
      ) {
        throw new ProtocolError(
          "protocol_violation",
          "The server's first frame must be a Handshake",
        );
      }
    }
    const socket = this.#sockets.get(channel);
    if (frame.type === "message") {
      return this.#socketOn(channel).receiveMessage(frame.schema, frame.value);
    }
    if (frame.type === "raw") {
      if (!this.options.allowRaw) {
        throw new ProtocolError("protocol_violation", "Raw frames are not allowed");
      }
      return this.#socketOn(channel).receiveRaw(frame.data);
    }
    if (frame.type !== "control") return;
    const schema = frame.schema;
    const value = frame.value as Record<string, unknown>;
    if (channel === ROOT_CHANNEL) {
      if (schema === Ping) {
        this.#transport!.send(encodeFrame(Pong, value as { timestamp: number }));
        this.#listeners.emit("ping");
        return;
      }
      if (schema === Pong) {
        const rtt = this.#roundTrip.record(value.timestamp as number);
        this.#listeners.emit("pong", { rtt, smoothedRtt: this.#roundTrip.smoothed! });
        return;
      }
      if (schema === EventName) {
        return this.#incoming.declare(value.id as number, value.name as string);
      }
      if (schema === ErrorMessage) return this.#refused(value as unknown as ErrorValue);
    }
    if (schema === Handshake) return this.#handshake(channel, value as unknown as HandshakeValue);
    const target = socket ?? this.#socketOn(channel);
    if (schema === Event) {
      target.receiveEvent(
        this.#incoming.name(value.event as number),
        value.payloadType as number,
        value.payload as Uint8Array | undefined,
        value.ackId as number | undefined,
      );
    } else if (schema === RoomEvent) {
      target.receiveEvent(
        this.#incoming.name(value.event as number),
        value.payloadType as number,
        value.payload as Uint8Array | undefined,
        undefined,
        value.room as string,
        value.sender as string | undefined,
      );
    } else if (schema === Ack) {
      target.receiveAck(
        value.ackId as number,
        value.payloadType as number,
        value.payload as Uint8Array | undefined,
        value.error as string | undefined,
      );
    } else if (schema === RoomJoined) target.roomJoined(value.room as string);
    else if (schema === RoomLeft) target.roomLeft(value.room as string);
    else if (schema === RoomJoinError) {
      target.joinRefused(
        value.room as string,
        value.code as number,
        value.message as string | undefined,
      );
    } else if (schema === MemberEntered || schema === MemberLeft) {
      target.member(schema === MemberEntered ? "member_entered" : "member_left", {
        room: value.room as string,
        socketId: value.socketId as string,
        ...(value.player === undefined ? {} : { player: value.player as string }),
      });
    } else if (schema === Disconnect) {
      const said = value.reason as string | undefined;
      const reason: DisconnectReason = said !== undefined && DISCONNECT_REASONS.has(said)
        ? said as DisconnectReason
        : "server disconnect";
      if (channel === ROOT_CHANNEL) {
        void this.#shutdown(reason, false);
        return;
      }
      this.#release(target);
      this.#transport!.send(encodeFrame(Disconnect, {}, { channel }));
      target.teardown(reason);
    } else {
      throw new ProtocolError("protocol_violation", `A server may not send ${schema.name}`);
    }
  }

  #socketOn(channel: number): ClientSocket<Listen, Emit> {
    const socket = this.#sockets.get(channel);
    if (socket === undefined || (channel !== ROOT_CHANNEL && !socket.connected)) {
      throw new ProtocolError("protocol_violation", `No namespace is open on channel ${channel}`);
    }
    return socket;
  }

  #handshake(channel: number, value: HandshakeValue): void {
    const socket = this.#sockets.get(channel);
    if (
      socket === undefined || socket.connected || value.namespace !== socket.namespace ||
      value.channel !== channel
    ) {
      throw new ProtocolError("protocol_violation", `Unexpected Handshake on channel ${channel}`);
    }
    if (value.protocolVersion !== PROTOCOL_VERSION) {
      return this.#refusedBy(
        socket,
        "protocol_mismatch",
        `The server speaks protocol version ${value.protocolVersion}, the client ${PROTOCOL_VERSION}`,
      );
    }
    if (value.schemaFingerprint !== socket.schemas.fingerprint) {
      return this.#refusedBy(
        socket,
        "schema_mismatch",
        `The server's schema fingerprint is ${value.schemaFingerprint}, the client's ${socket.schemas.fingerprint}`,
      );
    }
    const info: HandshakeInfo = {
      namespace: value.namespace,
      socketId: value.socketId,
      heartbeatInterval: value.heartbeatInterval,
      heartbeatTimeout: value.heartbeatTimeout,
      maxFrameSize: value.maxFrameSize,
    };
    if (channel === ROOT_CHANNEL) {
      this.#state = "open";
      this.#serverMaxFrameSize = Math.max(1, Math.min(value.maxFrameSize, 16 * 1024 * 1024));
      this.#heartbeat = {
        interval: Math.max(1, value.heartbeatInterval),
        timeout: Math.max(1, value.heartbeatTimeout),
      };
      this.#startHeartbeat();
    }
    socket.opened(info);
    this.#listeners.emit("handshake", socket, info);
  }

  #refused(value: ErrorValue): void {
    const namespace = value.namespace ?? "/";
    const socket = this.#byName.get(namespace);
    const code = connectErrorCode(value.code);
    const message = value.message ?? `The server refused ${namespace} (code ${value.code})`;
    if (socket === undefined || socket.connected) {
      return this.#reportError(new ConnectError(code, namespace, message));
    }
    this.#refusedBy(socket, code, message);
  }

  #refusedBy(socket: ClientSocket<Listen, Emit>, code: ConnectErrorCode, message: string): void {
    const error = new ConnectError(code, socket.namespace, message);
    if (socket.channel === ROOT_CHANNEL) {
      void this.#shutdown("server disconnect", false, error);
    } else {
      this.#release(socket);
      socket.refused(error);
    }
  }

  #reportError(error: unknown): void {
    if (this.#listeners.has("error")) this.#listeners.emit("error", error);
    else console.error("game-socket client:", error);
  }
}

interface ErrorValue {
  code: number;
  message?: string;
  namespace?: string;
}

interface HandshakeValue {
  namespace: string;
  channel: number;
  socketId: string;
  protocolVersion: number;
  schemaFingerprint: string;
  heartbeatInterval: number;
  heartbeatTimeout: number;
  maxFrameSize: number;
}

const textEncoder = new TextEncoder();

function authField(auth: JsonValue | undefined): { auth?: Uint8Array } {
  return auth === undefined ? {} : { auth: textEncoder.encode(JSON.stringify(auth)) };
}

function connectErrorCode(code: number): ConnectErrorCode {
  switch (code) {
    case ErrorCode.InvalidNamespace:
      return "invalid_namespace";
    case ErrorCode.AlreadyConnected:
      return "already_connected";
    case ErrorCode.ProtocolMismatch:
      return "protocol_mismatch";
    case ErrorCode.SchemaMismatch:
      return "schema_mismatch";
    case ErrorCode.Unauthorized:
      return "unauthorized";
    default:
      return "protocol_violation";
  }
}
