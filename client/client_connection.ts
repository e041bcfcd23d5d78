/**
 * The client's connection: the transport, the namespaces open on it, the event name tables in
 * both directions, heartbeats, and every frame the server sends. `GameSocketClient` is the API in
 * front of it.
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
import type { DeliveryStatus, SendOptions } from "../session/delivery.ts";
import {
  DISCONNECT_REASONS,
  type DisconnectReason,
  disconnectReasonOf,
} from "../session/disconnect_reason.ts";
import { DatagramRouter } from "../session/datagram_router.ts";
import { ConnectError, type ConnectErrorCode } from "../session/errors.ts";
import type { EventsMap } from "../session/event_map.ts";
import {
  DeclaredEventIds,
  IncomingEventNames,
  OutgoingEventNames,
} from "../session/event_names.ts";
import { heartbeatClock, RoundTrip } from "../session/heartbeat.ts";
import type { JsonValue } from "../session/payload.ts";
import type { TimerEntry, TimerQueue } from "../session/timer_queue.ts";
import { StreamTransport } from "../transport/stream_transport.ts";
import type { SendStatus, TransportCloseCause, TransportStats } from "../transport/transport.ts";
import type {
  ConnectOptions,
  GameSocketClientEvents,
  NamespaceConnectOptions,
} from "./client_events.ts";
import type { ResolvedClientOptions } from "./client_options.ts";
import { type ClientLink, ClientSocket, type HandshakeInfo } from "./client_socket.ts";
import { ClientUdp, type ClientUdpStats } from "./client_udp.ts";

/** What the connection tells its client. */
export interface ConnectionHooks {
  /** Emits one of the client's events. */
  emit<E extends keyof GameSocketClientEvents>(
    event: E,
    ...args: Parameters<GameSocketClientEvents[E]>
  ): void;
  /** Reports an error that has no better place to go. */
  reportError(error: unknown): void;
  /** Closes the client (the socket of `/` left). */
  close(): void;
}

/** The connection's state: waiting for the handshake of `/`, open, or closed. */
export type ConnectionState = "connecting" | "open" | "closed";

/**
 * One connection to a server, as the client sees it.
 *
 * @typeParam Listen Events the server sends.
 * @typeParam Emit Events the client sends.
 */
export class ClientConnection<Listen extends EventsMap, Emit extends EventsMap> {
  #options: ResolvedClientOptions;
  #timers: TimerQueue;
  #hooks: ConnectionHooks;
  #state: ConnectionState = "connecting";
  #transport: StreamTransport;
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
  #conn: Deno.Conn;
  #udp: ClientUdp | undefined;
  #router: DatagramRouter | undefined;

  /**
   * Wraps an open connection; nothing is read until {@linkcode ClientConnection.start}.
   *
   * @param conn The connection (TCP, or TLS over TCP).
   * @param options The client's options.
   * @param timers The client's timer queue.
   * @param hooks What the connection tells its client.
   */
  constructor(
    conn: Deno.Conn,
    options: ResolvedClientOptions,
    timers: TimerQueue,
    hooks: ConnectionHooks,
  ) {
    this.#options = options;
    this.#timers = timers;
    this.#hooks = hooks;
    this.#conn = conn;
    this.#transport = new StreamTransport(conn, {
      decode: {
        schemas: options.schemas,
        channelSchemas: (channel) => this.#channelSchemas.get(channel),
        channels: this.#channels,
        maxFrameSize: options.maxFrameSize,
      },
      sendQueueLimit: options.sendQueueLimit,
      readBufferSize: options.readBufferSize,
      secure: options.tls !== undefined,
    });
    const ackIds = new AckIds();
    this.#link = {
      options,
      timers,
      ackTimeout: options.ackTimeout,
      maxFrameSize: () => this.#serverMaxFrameSize,
      nextAckId: () => ackIds.next(),
      fallback: options.udp?.fallback ?? "tcp",
      send: (_socket, frame, sendOptions, event) => this.#send(frame, sendOptions, event),
      eventId: (event) => this.#outgoing.id(event),
      encoded: () => {},
      leave: (socket) => this.#leave(socket),
      reportError: (error) => hooks.reportError(error),
    };
  }

  /** The connection's state. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The socket of `/`, once {@linkcode ClientConnection.connectRoot} ran. */
  get root(): ClientSocket<Listen, Emit> | undefined {
    return this.#sockets.get(ROOT_CHANNEL);
  }

  /** The last and smoothed round trips of the client's pings, in milliseconds. */
  get rtt(): { readonly last: number | undefined; readonly smoothed: number | undefined } {
    return { last: this.#roundTrip.last, smoothed: this.#roundTrip.smoothed };
  }

  /** Traffic counters. */
  get stats(): Readonly<TransportStats> {
    return this.#transport.stats;
  }

  /** The UDP path's state and counters; `undefined` when the connection has none. */
  get udp(): ClientUdpStats | undefined {
    return this.#udp?.stats;
  }

  /** Starts reading. */
  start(): void {
    this.#lastHeard = performance.now();
    this.#transport.start({
      onFrame: (frame) => this.#onFrame(frame),
      onClose: (cause) => this.#onClose(cause),
    });
  }

  /**
   * Sends the connect of `/`.
   *
   * @param options Credentials.
   * @returns The socket of `/`, whose `ready` settles with the handshake.
   */
  connectRoot(options: ConnectOptions): ClientSocket<Listen, Emit> {
    const root = new ClientSocket<Listen, Emit>("/", ROOT_CHANNEL, this.#link);
    this.#sockets.set(ROOT_CHANNEL, root);
    this.#byName.set("/", root);
    this.#connectTimer(root);
    this.#transport.send(encodeFrame(Connect, {
      namespace: "/",
      channel: ROOT_CHANNEL,
      protocolVersion: PROTOCOL_VERSION,
      schemaFingerprint: this.#options.schemas.fingerprint,
      ...authField(options.auth),
    }));
    return root;
  }

  /**
   * Connects a namespace, or returns its socket when it is connected or connecting.
   *
   * @param namespace The namespace's name.
   * @param options Credentials and the namespace's own schemas.
   * @returns The namespace's socket.
   * @throws {TypeError} When the name is invalid or the connection is not open.
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
    this.#transport.send(encodeFrame(Connect, {
      namespace,
      channel,
      ...(schemas === undefined ? {} : { schemaFingerprint: schemas.fingerprint }),
      ...authField(options.auth),
    }));
    return socket;
  }

  /**
   * Closes the connection: every socket disconnects with `reason`; when `graceful`, the server
   * is told and queued writes drain first.
   *
   * @param reason Why.
   * @param graceful Whether to tell the server and flush.
   * @param error The connect error of sockets still waiting for their handshake.
   * @returns A promise that resolves when every resource is released.
   */
  async shutdown(
    reason: DisconnectReason,
    graceful: boolean,
    error?: ConnectError,
  ): Promise<void> {
    if (this.#state === "closed") {
      this.#timers.clear();
      // Closed already (or closing): wait until every resource is released.
      await Promise.all([this.#transport.abort(), this.#udp?.close()]);
      return;
    }
    const wasOpen = this.#state === "open";
    this.#state = "closed";
    this.#closeReason ??= reason;
    if (graceful && wasOpen) this.#transport.send(encodeFrame(Disconnect, { reason }));
    this.#teardownSockets(this.#closeReason, error);
    const udp = this.#udp?.close();
    if (graceful) await this.#transport.close(this.#options.closeTimeout);
    else await this.#transport.abort();
    await udp;
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
    if (cause.type === "protocol" || cause.type === "error") this.#hooks.reportError(cause.error);
    void this.#udp?.close();
    this.#timers.clear();
    this.#hooks.emit("close", this.#closeReason ?? "transport close");
  }

  #send(frame: Uint8Array, options: SendOptions, event?: string): DeliveryStatus {
    if (this.#state === "closed") return "closed";
    if (options.delivery !== "reliable") {
      const route = this.#datagrams.send(frame, options, event);
      if (route !== "tcp") return route;
    }
    return this.#sendTcp(frame, options.volatile, event);
  }

  #sendTcp(frame: Uint8Array, volatile: boolean, event?: string): SendStatus {
    const transport = this.#transport;
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
      this.#hooks.close();
      return;
    }
    if (this.#sockets.get(socket.channel) !== socket) return;
    this.#sockets.delete(socket.channel);
    this.#byName.delete(socket.namespace);
    this.#draining.add(socket.channel);
    this.#transport.send(
      encodeFrame(Disconnect, { reason: "client disconnect" }, { channel: socket.channel }),
    );
    socket.teardown("client disconnect");
  }

  #connectTimer(socket: ClientSocket<Listen, Emit>): void {
    const timeout = this.#options.connectTimeout;
    const timer = this.#timers.schedule(timeout, () => {
      if (socket.connected || this.#sockets.get(socket.channel) !== socket) return;
      const error = new ConnectError(
        "timeout",
        socket.namespace,
        `No handshake of ${socket.namespace} within ${timeout} ms`,
      );
      if (socket.channel === ROOT_CHANNEL) {
        void this.shutdown("transport close", false, error);
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
        void this.shutdown("heartbeat timeout", false);
        return;
      }
      const maxRtt = this.#options.maxAverageRtt;
      if (maxRtt > 0 && (this.#roundTrip.smoothed ?? 0) > maxRtt) {
        void this.shutdown("high latency", true);
        return;
      }
      if (now - this.#lastPing >= interval) {
        this.#lastPing = now;
        this.#transport.send(encodeFrame(Ping, { timestamp: heartbeatClock() }));
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
      if (!this.#options.allowRaw) {
        throw new ProtocolError("protocol_violation", "Raw frames are not allowed");
      }
      return this.#socketOn(channel).receiveRaw(frame.data);
    }
    if (frame.type !== "control") return;
    const schema = frame.schema;
    const value = frame.value as Record<string, unknown>;
    if (channel === ROOT_CHANNEL) {
      if (schema === Ping) {
        this.#transport.send(encodeFrame(Pong, value as { timestamp: number }));
        this.#hooks.emit("ping");
        return;
      }
      if (schema === Pong) {
        const rtt = this.#roundTrip.record(value.timestamp as number);
        this.#hooks.emit("pong", { rtt, smoothedRtt: this.#roundTrip.smoothed! });
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
        void this.shutdown(reason, false);
        return;
      }
      this.#release(target);
      this.#transport.send(encodeFrame(Disconnect, {}, { channel }));
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
      this.#openUdp(value);
    }
    socket.opened(info);
    this.#hooks.emit("handshake", socket, info);
  }

  #openUdp(value: HandshakeValue): void {
    const options = this.#options.udp;
    const { udpPort, udpKey, udpSession } = value;
    if (
      options === undefined || udpPort === undefined || udpKey === undefined ||
      udpSession === undefined
    ) return;
    const remote = this.#conn.remoteAddr as Deno.NetAddr;
    const local = this.#conn.localAddr as Deno.NetAddr;
    this.#udp = new ClientUdp(
      {
        // Port 0: the port number of the TCP port reached (which may be a relay's).
        server: { hostname: remote.hostname, port: udpPort === 0 ? remote.port : udpPort },
        localHostname: local.hostname,
        session: udpSession,
        key: udpKey,
      },
      options,
      this.#timers,
      {
        state: (state) => this.#hooks.emit("udp_state", state),
        receive: (type, sequence, body) =>
          this.#state === "open" ? this.#datagrams.receive(type, sequence, body) : "invalid",
        error: (error) => this.#hooks.reportError(error),
      },
    );
  }

  /** The connection's UDP traffic, made on first use. */
  get #datagrams(): DatagramRouter {
    return this.#router ??= new DatagramRouter({
      path: () => this.#udp?.path,
      decode: {
        schemas: this.#options.schemas,
        channelSchemas: (channel: number) => this.#channelSchemas.get(channel),
        maxFrameSize: this.#options.maxFrameSize,
      },
      incoming: this.#incoming,
      outgoing: this.#outgoing,
      declared: this.#declared,
      sendTcp: (frame: Uint8Array) => this.#transport.send(frame),
      allowRaw: this.#options.allowRaw,
      socketAt: (channel: number) => {
        if (this.#draining.has(channel)) return null;
        const socket = this.#sockets.get(channel);
        return socket?.connected ? socket : undefined;
      },
    });
  }

  #refused(value: ErrorValue): void {
    const namespace = value.namespace ?? "/";
    const socket = this.#byName.get(namespace);
    const code = connectErrorCode(value.code);
    const message = value.message ?? `The server refused ${namespace} (code ${value.code})`;
    if (socket === undefined || socket.connected) {
      return this.#hooks.reportError(new ConnectError(code, namespace, message));
    }
    this.#refusedBy(socket, code, message);
  }

  #refusedBy(socket: ClientSocket<Listen, Emit>, code: ConnectErrorCode, message: string): void {
    const error = new ConnectError(code, socket.namespace, message);
    if (socket.channel === ROOT_CHANNEL) {
      void this.shutdown("server disconnect", false, error);
    } else {
      this.#release(socket);
      socket.refused(error);
    }
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
  udpPort?: number;
  udpKey?: Uint8Array;
  udpSession?: number;
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
