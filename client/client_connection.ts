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
  LIMIT_NAMES,
  LimitExceededError,
  type LimitName,
  MemberEntered,
  MemberLeft,
  MemberMoved,
  Ping,
  Pong,
  PROTOCOL_VERSION,
  ProtocolError,
  readFrameChannel,
  RoomCreated,
  RoomEvent,
  RoomJoined,
  RoomJoinError,
  RoomLeft,
  RoomList,
  RoomListing,
  ROOT_CHANNEL,
  SchemaRegistry,
  SessionAck,
} from "../protocol/mod.ts";
import { AckIds } from "../session/ack_tracker.ts";
import { Backoff } from "../session/backoff.ts";
import type { DeliveryStatus, SendOptions } from "../session/delivery.ts";
import {
  DISCONNECT_REASONS,
  type DisconnectReason,
  disconnectReasonOf,
} from "../session/disconnect_reason.ts";
import { DatagramRouter } from "../session/datagram_router.ts";
import { ConnectError, type ConnectErrorCode } from "../session/errors.ts";
import { tokenBytes, tokenText } from "../session/recoverable_sessions.ts";
import { isCounted, SessionStream } from "../session/session_stream.ts";
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
import type { RejoinOptions, RoomJoinedValue, RoomListingValue } from "./client_rooms.ts";
import { type ClientLink, ClientSocket, type HandshakeInfo } from "./client_socket.ts";
import { ClientUdp, type ClientUdpStats } from "./client_udp.ts";
import { OfflineQueue } from "./offline_queue.ts";
import { Reconnector } from "./reconnector.ts";

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
  /** Opens a new connection to the server, for a reconnection. */
  dial(signal: AbortSignal): Promise<Deno.Conn>;
}

/**
 * The connection's state: waiting for the handshake of `/`, open, reconnecting (the connection
 * dropped; emits are kept), or closed.
 */
export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

/** What the client keeps of its frames that the server has not confirmed, for a resumed session. */
const REPLAY_LIMITS = { maxFrames: 4096, maxBytes: 1024 * 1024 };

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
  /** With a server that keeps sessions: the session's id and its current recovery token. */
  #session: { readonly id: string; readonly token: string } | undefined;
  #stream: SessionStream | undefined;
  #offline: OfflineQueue;
  #reconnector: Reconnector | undefined;
  #keepOnClose = false;
  /** Whether the server ended the connection on purpose (an `Error` about `/`). */
  #final = false;
  #resumeTimer: TimerEntry | undefined;
  /** The credentials of each namespace's connect (of `/` on channel 0), for a fresh session. */
  #auths: Map<number, Uint8Array | undefined> | undefined;
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
    this.#offline = new OfflineQueue(options.offlineQueue);
    this.#conn = conn;
    this.#transport = this.#makeTransport(conn);
    const ackIds = new AckIds();
    this.#link = {
      options,
      timers,
      ackTimeout: options.ackTimeout,
      maxFrameSize: () => this.#serverMaxFrameSize,
      nextAckId: () => ackIds.next(),
      fallback: options.udp?.fallback ?? "tcp",
      send: (socket, frame, sendOptions, event) =>
        this.#send(frame, sendOptions, event, (socket as ClientSocket<Listen, Emit>).namespace),
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
    this.#startTransport(this.#transport);
  }

  #makeTransport(conn: Deno.Conn): StreamTransport {
    const options = this.#options;
    return new StreamTransport(conn, {
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
  }

  /** Starts a transport; what a replaced one still reports is ignored. */
  #startTransport(transport: StreamTransport): void {
    transport.start({
      onFrame: (frame) => {
        if (transport === this.#transport) this.#onFrame(frame);
      },
      onClose: (cause) => {
        if (transport === this.#transport) this.#onClose(cause);
      },
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
    (this.#auths ??= new Map()).set(ROOT_CHANNEL, authField(options.auth).auth);
    this.#transport.send(this.#rootConnect(false));
    return root;
  }

  /** The connect of `/`: asking to resume the session when `resume`. */
  #rootConnect(resume: boolean): Uint8Array {
    const auth = this.#auths?.get(ROOT_CHANNEL);
    const session = this.#session;
    const stream = this.#stream;
    return encodeFrame(Connect, {
      namespace: "/",
      channel: ROOT_CHANNEL,
      protocolVersion: PROTOCOL_VERSION,
      schemaFingerprint: this.#options.schemas.fingerprint,
      ...(auth === undefined ? {} : { auth }),
      // With reconnection, the count asks for a recoverable session (0 on a first connect).
      ...(resume && session !== undefined && stream !== undefined
        ? {
          sessionId: session.id,
          recoveryToken: tokenBytes(session.token),
          received: stream.received,
        }
        : this.#options.reconnection === undefined
        ? {}
        : { received: 0 }),
    });
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
    (this.#auths ??= new Map()).set(channel, authField(options.auth).auth);
    this.#out(this.#namespaceConnect(socket));
    return socket;
  }

  #namespaceConnect(socket: ClientSocket<Listen, Emit>): Uint8Array {
    const schemas = this.#channelSchemas.get(socket.channel);
    const auth = this.#auths?.get(socket.channel);
    return encodeFrame(Connect, {
      namespace: socket.namespace,
      channel: socket.channel,
      ...(schemas === undefined ? {} : { schemaFingerprint: schemas.fingerprint }),
      ...(auth === undefined ? {} : { auth }),
    });
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
    this.#reconnector?.stop();
    if (this.#state === "closed") {
      this.#timers.clear();
      // Closed already (or closing): wait until every resource is released.
      await Promise.all([this.#transport.abort(), this.#udp?.close()]);
      return;
    }
    if (this.#state === "reconnecting") {
      // The dropped connection reported its close already; a new one may be under way.
      this.#state = "closed";
      this.#closeReason ??= reason;
      this.#teardownSockets(this.#closeReason, error);
      await this.#transport.abort();
      this.#timers.clear();
      this.#hooks.emit("close", this.#closeReason);
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
    const dropped = this.#keepOnClose || cause.type === "eof" || cause.type === "error";
    const reconnect = this.#options.reconnection !== undefined && !this.#final;
    if (this.#state === "open" && dropped && reconnect) {
      return this.#lose(disconnectReasonOf(cause, "client disconnect"));
    }
    if (this.#state === "reconnecting") {
      // An attempt's connection closed before its handshake: the next attempt.
      if (this.#resumeTimer !== undefined) this.#timers.cancel(this.#resumeTimer);
      const error = "error" in cause ? cause.error : new Error(`Closed before the handshake`);
      return this.#reconnector?.next(error);
    }
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

  #send(
    frame: Uint8Array,
    options: SendOptions,
    event: string | undefined,
    namespace: string,
  ): DeliveryStatus {
    if (this.#state === "closed") return "closed";
    if (this.#state === "reconnecting") return this.#keepOffline(frame, options, event, namespace);
    if (options.delivery !== "reliable") {
      const route = this.#datagrams.send(frame, options, event);
      if (route !== "tcp") return route;
    }
    return this.#sendTcp(frame, options.volatile, event);
  }

  #sendTcp(frame: Uint8Array, volatile: boolean, event?: string): SendStatus {
    if (event !== undefined) {
      const id = this.#outgoing.id(event);
      if (this.#declared.add(id)) {
        const status = this.#out(this.#outgoing.frame(id), volatile);
        if (status !== "queued") {
          // Not sent (a dropped volatile frame): declare it with the next frame that is.
          this.#declared.delete(id);
          return status;
        }
      }
    }
    return this.#out(frame, volatile);
  }

  /** Sends a frame that counts in the session (all but heartbeats, acks, connect of `/`). */
  #out(frame: Uint8Array, volatile = false): SendStatus {
    const status = this.#transport.send(frame, volatile);
    if (status === "queued") this.#stream?.sentFrame(frame);
    return status;
  }

  /** Keeps an emit made while reconnecting; volatile ones are dropped. */
  #keepOffline(
    frame: Uint8Array,
    options: SendOptions,
    event: string | undefined,
    namespace: string,
  ): DeliveryStatus {
    if (options.volatile || options.delivery !== "reliable") return "dropped";
    this.#offline.keep({ frame, event, channel: readFrameChannel(frame) }, namespace);
    return "queued";
  }

  /** Sends the emits kept for a channel (or every channel) while reconnecting. */
  #flushOffline(channel?: number): void {
    for (const kept of this.#offline.take(channel)) this.#sendTcp(kept.frame, false, kept.event);
  }

  /** The connection dropped: the sockets wait, and the reconnection loop starts. */
  #lose(reason: DisconnectReason): void {
    this.#state = "reconnecting";
    this.#keepOnClose = false;
    if (this.#tick !== undefined) this.#timers.cancel(this.#tick);
    this.#tick = undefined;
    void this.#udp?.close();
    this.#udp = undefined;
    this.#router = undefined;
    for (const socket of this.#sockets.values()) socket.connectionLost(reason);
    const hooks = this.#hooks;
    this.#reconnector ??= new Reconnector(
      new Backoff(this.#options.reconnection!),
      this.#timers,
      {
        dial: (signal) => hooks.dial(signal),
        attempt: (attempt) => hooks.emit("reconnect_attempt", attempt),
        connected: (conn) => this.#resume(conn),
        failed: (error) => hooks.emit("reconnect_error", error),
        gaveUp: () => {
          hooks.emit("reconnect_failed");
          void this.shutdown(reason, false);
        },
      },
    );
    this.#reconnector.next();
  }

  /** An attempt connected: ask to resume the session (or for a fresh one) on it. */
  #resume(conn: Deno.Conn): void {
    if (this.#state !== "reconnecting") {
      conn.close();
      return;
    }
    this.#conn = conn;
    const transport = this.#transport = this.#makeTransport(conn);
    this.#lastHeard = performance.now();
    this.#startTransport(transport);
    transport.send(this.#rootConnect(this.#stream?.replayable ?? false));
    const timeout = this.#options.connectTimeout;
    this.#resumeTimer = this.#timers.schedule(timeout, () => {
      if (this.#state === "reconnecting" && transport === this.#transport) void transport.abort();
    });
  }

  /** The handshake of `/` on a new connection: the session is back, resumed or fresh. */
  #reopened(value: HandshakeValue, info: HandshakeInfo): void {
    if (this.#resumeTimer !== undefined) this.#timers.cancel(this.#resumeTimer);
    this.#resumeTimer = undefined;
    const attempts = this.#reconnector!.attempts;
    this.#reconnector!.succeeded();
    const recovered = value.recovered === true;
    const root = this.#sockets.get(ROOT_CHANNEL)!;
    if (recovered) {
      const stream = this.#stream!;
      const received = value.received ?? 0;
      const replay = stream.since(received) ?? [];
      stream.confirm(received);
      stream.resetTold();
      for (const frame of replay) this.#transport.send(frame);
      this.#flushOffline();
      for (const socket of this.#sockets.values()) {
        socket.reopened({ ...info, namespace: socket.namespace, socketId: socket.id!, recovered });
      }
    } else {
      // A fresh session: the server knows nothing of this client; every namespace connects again.
      this.#incoming = new IncomingEventNames();
      this.#declared = new DeclaredEventIds();
      for (const channel of this.#draining) this.#channels.close(channel);
      this.#draining.clear();
      this.#rejoin(root, root.reopened({ ...info, recovered }));
      this.#flushOffline(ROOT_CHANNEL);
      for (const socket of this.#sockets.values()) {
        if (socket.channel !== ROOT_CHANNEL) this.#out(this.#namespaceConnect(socket));
      }
      this.#hooks.emit("session_expired");
    }
    this.#hooks.emit("reconnect", { recovered, attempts });
  }

  /** Joins again, after a fresh session, the rooms a socket was in (with `rejoinRooms`). */
  #rejoin(socket: ClientSocket<Listen, Emit>, rooms: [string, RejoinOptions][]): void {
    if (!this.#options.rejoinRooms) return;
    for (const [room, options] of rooms) {
      socket.join(room, options).catch((error) => this.#hooks.reportError(error));
    }
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
    this.#out(
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
        if (this.#options.reconnection !== undefined) {
          // A silent server may be a dropped connection: reconnect.
          this.#keepOnClose = true;
          this.#closeReason = undefined;
          void this.#transport.abort();
        } else void this.shutdown("heartbeat timeout", false);
        return;
      }
      const stream = this.#stream;
      if (stream?.owesAck) this.#transport.send(stream.ackFrame());
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
    const stream = this.#stream;
    if (stream !== undefined && this.#state === "open") {
      if (frame.type === "control" && frame.schema === SessionAck) {
        return stream.confirm((frame.value as { received: number }).received);
      }
      if (isCounted(frame) && stream.receivedFrame()) this.#transport.send(stream.ackFrame());
    }
    const channel = frame.channel;
    if (this.#draining.has(channel)) {
      if (frame.type === "control" && frame.schema === Disconnect) {
        this.#draining.delete(channel);
        this.#channelSchemas.delete(channel);
        this.#channels.close(channel);
      }
      return;
    }
    if (this.#state === "connecting" || this.#state === "reconnecting") {
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
    } else if (schema === RoomJoined) {
      target.roomRequests.joined(value as unknown as RoomJoinedValue);
    } else if (schema === RoomLeft) target.roomRequests.left(value.room as string);
    else if (schema === RoomJoinError) {
      target.roomRequests.refused(
        value.room as string,
        value.code as number,
        value.message as string | undefined,
        value.requestId as number | undefined,
        value.limit as string | undefined,
      );
    } else if (schema === RoomCreated) {
      target.roomRequests.created(value.requestId as number | undefined);
    } else if (schema === RoomList) {
      target.roomRequests.listed(
        value.requestId as number,
        value.rooms as Uint8Array,
        value.next as string | undefined,
      );
    } else if (schema === RoomListing) {
      target.roomRequests.listing(value as unknown as RoomListingValue);
    } else if (schema === MemberEntered || schema === MemberLeft) {
      target.member(schema === MemberEntered ? "member_entered" : "member_left", {
        room: value.room as string,
        socketId: value.socketId as string,
        ...(value.player === undefined ? {} : { player: value.player as string }),
        playerId: (value.playerId as number | undefined) ?? 0,
      });
    } else if (schema === MemberMoved) {
      target.member("member_moved", {
        from: value.from as string,
        to: value.to as string,
        socketId: value.socketId as string,
        ...(value.player === undefined ? {} : { player: value.player as string }),
        playerId: (value.playerId as number | undefined) ?? 0,
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
      this.#out(encodeFrame(Disconnect, {}, { channel }));
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
      const resuming = this.#state === "reconnecting";
      this.#state = "open";
      this.#serverMaxFrameSize = Math.max(1, Math.min(value.maxFrameSize, 16 * 1024 * 1024));
      this.#heartbeat = {
        interval: Math.max(1, value.heartbeatInterval),
        timeout: Math.max(1, value.heartbeatTimeout),
      };
      const { sessionId, recoveryToken } = value;
      if (sessionId === undefined || recoveryToken === undefined) {
        this.#session = this.#stream = undefined;
      } else {
        this.#session = { id: sessionId, token: tokenText(recoveryToken) };
        if (!(resuming && value.recovered === true)) {
          this.#stream = new SessionStream(REPLAY_LIMITS);
        }
      }
      this.#startHeartbeat();
      this.#openUdp(value);
      if (resuming) {
        this.#reopened(value, info);
        this.#hooks.emit("handshake", socket, info);
        return;
      }
    }
    if (socket.reconnecting) {
      // A namespace connected again in a fresh session.
      this.#rejoin(socket, socket.reopened({ ...info, recovered: false }));
      this.#flushOffline(channel);
    } else socket.opened(info);
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
      sendTcp: (frame: Uint8Array) => this.#out(frame),
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
    // An error about `/` ends the connection on purpose: no reconnection follows.
    if (namespace === "/") this.#final = true;
    const socket = this.#byName.get(namespace);
    const code = connectErrorCode(value.code);
    const message = value.message ?? `The server refused ${namespace} (code ${value.code})`;
    const limit = limitError(value, message);
    if (socket === undefined || socket.connected) {
      if (limit === undefined) {
        return this.#hooks.reportError(new ConnectError(code, namespace, message));
      }
      // The server closes the connection for a limit: the client hears which, then closes.
      this.#hooks.reportError(limit);
      if (namespace === "/") void this.shutdown("limit exceeded", false);
      return;
    }
    this.#refusedBy(socket, code, message, limit);
  }

  #refusedBy(
    socket: ClientSocket<Listen, Emit>,
    code: ConnectErrorCode,
    message: string,
    cause?: Error,
  ): void {
    const error = new ConnectError(
      code,
      socket.namespace,
      message,
      cause === undefined ? undefined : { cause },
    );
    if (socket.reconnecting && socket.channel !== ROOT_CHANNEL) {
      // Refused in a fresh session: the socket is gone, and what it kept meanwhile with it.
      this.#release(socket);
      this.#offline.take(socket.channel);
      socket.teardown("server disconnect", error);
      return;
    }
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
  limit?: string;
}

/** The limit an `Error` frame with `LimitExceeded` names, unless it names none this side knows. */
function limitError(value: ErrorValue, message: string): LimitExceededError | undefined {
  if (value.code !== ErrorCode.LimitExceeded || !LIMIT_NAMES.has(value.limit ?? "")) return;
  return new LimitExceededError(value.limit as LimitName, undefined, message);
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
  sessionId?: string;
  recoveryToken?: Uint8Array;
  recovered?: boolean;
  received?: number;
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
    case ErrorCode.LimitExceeded:
      return "limit_exceeded";
    default:
      return "protocol_violation";
  }
}
