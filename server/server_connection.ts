/**
 * One client connection on the server: the root channel (connects, heartbeats, event names),
 * the namespace sockets opened on it, and its timers.
 *
 * @module
 */

import {
  Ack,
  ChannelTable,
  Connect,
  type DatagramType,
  Disconnect,
  encodeFrame,
  ErrorCode,
  ErrorMessage,
  Event,
  EventName,
  type Frame,
  Handshake,
  LimitExceededError,
  Ping,
  Pong,
  PROTOCOL_VERSION,
  ProtocolError,
  RoomCreate,
  RoomEvent,
  RoomJoin,
  RoomLeave,
  RoomListRequest,
  RoomWatch,
  ROOT_CHANNEL,
  type Schema,
  type SchemaRegistry,
  SessionAck,
} from "../protocol/mod.ts";
import type { DeliveryStatus, SendOptions, UdpStats } from "../session/delivery.ts";
import { DatagramRouter } from "../session/datagram_router.ts";
import {
  type DisconnectReason,
  disconnectReasonOf,
  isLimitFault,
} from "../session/disconnect_reason.ts";
import { DeclaredEventIds, IncomingEventNames } from "../session/event_names.ts";
import { heartbeatClock, RoundTrip } from "../session/heartbeat.ts";
import type { JsonValue } from "../session/payload.ts";
import { InboundRateLimit } from "../session/rate_limit.ts";
import type { DatagramDrop } from "../transport/datagram_path.ts";
import type {
  SendStatus,
  Transport,
  TransportAddress,
  TransportCloseCause,
  TransportHandler,
} from "../transport/transport.ts";
import type { BroadcastPacket } from "./adapter.ts";
import { runMiddleware } from "./middleware.ts";
import type { AnyNamespace, AnyServerSocket, ServerCore } from "./server_core.ts";
import { ServerSocket, type SocketHandshake } from "./server_socket.ts";
import { newRecoveryToken, sameToken, tokenBytes } from "../session/recoverable_sessions.ts";
import { isCounted, SessionStream } from "../session/session_stream.ts";
import { randomSocketId } from "../session/socket_id.ts";
import type { UdpSession, UdpSessionOwner } from "./server_udp.ts";
import type {
  AckValue,
  ConnectValue,
  EventValue,
  HandshakeValue,
  RoomCreateValue,
  RoomEventValue,
  RoomJoinValue,
  RoomListRequestValue,
} from "./frame_values.ts";

const textDecoder = new TextDecoder("utf-8", { fatal: true });

/** Where a connection taken over by its session's new one reports its last frames and close. */
const DROPPED: TransportHandler = { onFrame() {}, onClose() {} };

/**
 * The connection's state: waiting for its first connect, waiting for the middleware of `/` to
 * decide it, open, away (the connection dropped and the session waits for its client to resume
 * it), or closed.
 */
type State = "handshake" | "authorizing" | "open" | "away" | "closed";

/** A client connection, as the server sees it. */
export class ServerConnection implements UdpSessionOwner {
  #transport: Transport;
  readonly channels: ChannelTable = new ChannelTable();
  readonly roundTrip: RoundTrip = new RoundTrip();
  #core: ServerCore;
  #state: State = "handshake";
  // The root socket, and the others by channel: an idle connection with only "/" holds no map.
  #root: AnyServerSocket | undefined;
  #others: Map<number, AnyServerSocket> | undefined;
  #draining: Set<number> | undefined;
  /** The schemas of open (or draining) channels whose namespace has its own, for the decoder. */
  #schemas: Map<number, SchemaRegistry> | undefined;
  #rootFingerprint = "";
  #incoming: IncomingEventNames;
  #declared = new DeclaredEventIds();
  #openedAt = performance.now();
  #lastHeard = performance.now();
  #lastActive = performance.now();
  #lastPing = performance.now();
  #closeReason: DisconnectReason | undefined;
  #udp: UdpSession | undefined;
  #router: DatagramRouter | undefined;
  /** With session recovery: the session's id, its current token, and its counted frames. */
  #session: { readonly id: string; token: string; readonly stream: SessionStream } | undefined;
  /** Whether the transport's close should keep the session (a heartbeat timeout). */
  #keepOnClose = false;
  /** The limit this side closed the connection for, reported with its close. */
  #closeError: LimitExceededError | undefined;
  /** The inbound rate limit, when the server has one. */
  #rate: InboundRateLimit | undefined;
  #rateLimited = 0;
  /** Namespace connects whose middleware is still deciding, by channel. */
  #authorizing: Map<number, string> | undefined;

  /**
   * Wraps an accepted connection's transport and starts reading.
   *
   * @param core The server's internals.
   * @param transport The connection.
   */
  constructor(core: ServerCore, transport: Transport) {
    this.#core = core;
    this.#transport = transport;
    this.#incoming = new IncomingEventNames(core.options.maxEventNameLength);
    const rate = core.options.rateLimit;
    if (rate !== undefined) this.#rate = new InboundRateLimit(rate);
    transport.start(this);
  }

  /** The connection's current transport (a resumed session has its client's new one). */
  get transport(): Transport {
    return this.#transport;
  }

  /** The session's id, with session recovery. */
  get sessionId(): string | undefined {
    return this.#session?.id;
  }

  /**
   * The transport's report of a protocol fault: the `Error` frame that tells the client why
   * the connection closes.
   *
   * @param error The fault.
   * @returns The frame.
   */
  lastWords(error: Error): Uint8Array {
    const limit = this.#limitOf(error);
    if (limit !== undefined) return limitFrame(limit);
    return encodeFrame(ErrorMessage, {
      code: error instanceof ProtocolError && error.code === "unsupported_version"
        ? ErrorCode.ProtocolMismatch
        : ErrorCode.ProtocolViolation,
      message: error.message,
    });
  }

  /** The limit a fault went over, as a `LimitExceededError` (a frame too large becomes one). */
  #limitOf(error: Error): LimitExceededError | undefined {
    if (error instanceof LimitExceededError) return error;
    if (!isLimitFault(error)) return undefined;
    const max = this.#core.options.maxFrameSize;
    return new LimitExceededError("frame_size", max, error.message, { cause: error });
  }

  /** The socket of `/`, while the connection is open. */
  get root(): AnyServerSocket | undefined {
    return this.#root;
  }

  /** Whether the connection is closed or closing. */
  get closed(): boolean {
    return this.#state === "closed";
  }

  /**
   * The schemas message frames on a channel resolve against.
   *
   * @param channel The channel.
   * @returns The namespace's registry, or `undefined` for the server's.
   */
  schemasOf(channel: number): SchemaRegistry | undefined {
    return this.#schemas?.get(channel);
  }

  #socketAt(channel: number): AnyServerSocket | undefined {
    return channel === ROOT_CHANNEL ? this.#root : this.#others?.get(channel);
  }

  #removeSocket(channel: number): void {
    if (channel === ROOT_CHANNEL) this.#root = undefined;
    else this.#others?.delete(channel);
  }

  /** Forgets a channel that both sides have closed. */
  #freeChannel(channel: number): void {
    this.#draining?.delete(channel);
    this.#schemas?.delete(channel);
    this.#router?.forgetChannel(channel);
    this.channels.close(channel);
  }

  /**
   * Checks the connection's deadlines and sends its heartbeat; the server's one timer calls it
   * for every connection.
   *
   * @param now `performance.now()`.
   */
  tick(now: number): void {
    const options = this.#core.options;
    if (this.#state === "handshake" || this.#state === "authorizing") {
      if (now - this.#openedAt >= options.handshakeTimeout) {
        const max = options.handshakeTimeout;
        this.#closeError = new LimitExceededError(
          "handshake_timeout",
          max,
          `No connect was through within ${max} ms`,
        );
        // A slow client is told why; one that sent nothing at all is not worth a write.
        if (this.#transport.stats.bytesIn === 0) {
          this.close("handshake timeout", false);
        } else {
          this.#transport.send(limitFrame(this.#closeError));
          this.close("handshake timeout", true, TURNED_AWAY_LINGER);
        }
      }
      return;
    }
    if (this.#state !== "open") return;
    if (now - this.#lastHeard >= options.heartbeatTimeout) {
      // A silent client may come back: its session waits for it, when it can.
      if (this.#session?.stream.replayable) {
        this.#keepOnClose = true;
        this.#closeReason = "heartbeat timeout";
        void this.#transport.abort();
      } else this.close("heartbeat timeout", false);
      return;
    }
    const stream = this.#session?.stream;
    if (stream?.owesAck) this.#transport.send(stream.ackFrame());
    if (options.idleTimeout > 0 && now - this.#lastActive >= options.idleTimeout) {
      this.close("idle timeout");
    } else if (
      options.maxAverageRtt > 0 && (this.roundTrip.smoothed ?? 0) > options.maxAverageRtt
    ) {
      this.close("high latency");
    } else if (now - this.#lastPing >= options.heartbeatInterval) {
      this.#lastPing = now;
      this.#transport.send(encodeFrame(Ping, { timestamp: heartbeatClock() }));
    }
  }

  /** The UDP path's counters, when the server has a UDP channel. */
  get udpStats(): UdpStats | undefined {
    return this.#udp?.stats;
  }

  /**
   * Sends a frame, after the declaration of its event name when this connection has not had it:
   * over TCP, or in a datagram when its delivery class asks for UDP and the path can carry it.
   *
   * @param frame The frame.
   * @param options Volatility, delivery class and fallback.
   * @param event The event name the frame's id stands for.
   * @returns What became of it.
   * @throws {DatagramTooLargeError} When it does not fit a datagram and may not fall back.
   */
  send(frame: Uint8Array, options: SendOptions, event?: string): DeliveryStatus {
    if (options.delivery !== "reliable") {
      // An unreliable frame is not kept for a client that is away.
      if (this.#state === "away") return "dropped";
      const route = this.#datagrams.send(frame, options, event);
      if (route !== "tcp") return route;
    }
    return this.#sendTcp(frame, options.volatile, event);
  }

  #sendTcp(frame: Uint8Array, volatile: boolean, event?: string): SendStatus {
    if (event !== undefined) {
      const names = this.#core.eventNames;
      const id = names.id(event);
      if (this.#declared.add(id)) {
        const status = this.#out(names.frame(id), volatile);
        if (status !== "queued") {
          // Not sent (a dropped volatile frame): declare it with the next frame that is.
          this.#declared.delete(id);
          return status;
        }
      }
    }
    return this.#out(frame, volatile);
  }

  /**
   * Sends a frame that counts in the session (every frame but heartbeats, acks, and the frames
   * that open and end the connection). While the session is away, it is kept for the client's
   * return; volatile frames are dropped then.
   */
  #out(frame: Uint8Array, volatile = false): SendStatus {
    const stream = this.#session?.stream;
    if (this.#state === "away") {
      if (volatile) return "dropped";
      stream!.sentFrame(frame);
      return "queued";
    }
    const status = this.#transport.send(frame, volatile);
    if (status === "queued") stream?.sentFrame(frame);
    return status;
  }

  /**
   * Delivers a broadcast to one of this connection's sockets.
   *
   * @param socket The recipient.
   * @param packet The broadcast.
   * @returns What became of it.
   */
  deliver(socket: AnyServerSocket, packet: BroadcastPacket): DeliveryStatus {
    const status = this.send(packet.frameFor(socket.channel), packet, packet.event);
    if (status === "queued") socket.countOut(packet.frameFor(socket.channel).length);
    return status;
  }

  /**
   * Disconnects one namespace socket: tells the client, and keeps the channel until the client
   * confirms, so frames it sent meanwhile are ignored rather than refused.
   *
   * @param socket The socket.
   * @param reason Why.
   */
  disconnectSocket(socket: AnyServerSocket, reason: DisconnectReason): void {
    if (socket.channel === ROOT_CHANNEL) {
      void this.close(reason);
      return;
    }
    this.#out(encodeFrame(Disconnect, { reason }, { channel: socket.channel }));
    this.#removeSocket(socket.channel);
    (this.#draining ??= new Set()).add(socket.channel);
    socket.teardown(reason);
  }

  /**
   * Closes the connection: every socket disconnects with `reason`. When `graceful`, the client
   * is told why and queued writes drain first.
   *
   * @param reason Why.
   * @param graceful Whether to tell the client and flush.
   * @param timeout Milliseconds a graceful close waits for the flush and the client's close.
   * @returns A promise that resolves when the connection's resources are released.
   */
  close(
    reason: DisconnectReason,
    graceful = true,
    timeout: number = this.#core.options.closeTimeout,
  ): Promise<void> {
    this.#endUdp();
    if (this.#state === "away") {
      // The session waits for a client that is gone: it ends now.
      this.#core.forgetSession(this);
      this.expire();
      return Promise.resolve();
    }
    if (this.#state !== "closed") {
      this.#closeReason = reason;
      const wasOpen = this.#state === "open";
      this.#state = "closed";
      if (graceful && wasOpen) this.#transport.send(encodeFrame(Disconnect, { reason }));
      this.#core.forgetSession(this);
      this.#teardownSockets(reason);
      return graceful ? this.#transport.close(timeout) : this.#transport.abort();
    }
    return this.#transport.abort();
  }

  /**
   * Ends a session that waited for its client in vain (the window passed, its frames could not
   * all be kept, or the server closes): its sockets leave (`expired`).
   */
  expire(): void {
    if (this.#state !== "away") return;
    this.#state = "closed";
    this.#core.forgetSession(this);
    this.#teardownSockets("transport close");
    this.#core.sessionExpired(this);
  }

  #teardownSockets(reason: DisconnectReason): void {
    // Namespaces first, the root last, as the client sees them open.
    const sockets = [...this.#others?.values() ?? []].reverse();
    if (this.#root !== undefined) sockets.push(this.#root);
    this.#root = undefined;
    this.#others = undefined;
    for (const socket of sockets) socket.teardown(reason);
  }

  /**
   * The transport closed and released its resources.
   *
   * @param cause Why.
   */
  onClose(cause: TransportCloseCause): void {
    this.#endUdp();
    const reason = this.#closeReason ?? disconnectReasonOf(cause, "server disconnect");
    const fault = "error" in cause ? cause.error : undefined;
    const error = this.#closeError ??
      (fault === undefined ? undefined : this.#limitOf(fault) ?? fault);
    const lost = this.#keepOnClose || cause.type === "eof" || cause.type === "error";
    if (this.#state === "open" && lost && this.#session?.stream.replayable) {
      // The client may come back: the session waits for it.
      this.#state = "away";
      this.#core.keepSession(this, this.#session.id, this.#session.token);
      const keepRooms = this.#core.options.recovery?.keepRooms ?? true;
      for (const socket of this.#sockets()) socket.connectionLost(reason, keepRooms);
    } else if (this.#state !== "closed" && this.#state !== "away") {
      this.#state = "closed";
      this.#closeReason = reason;
      this.#teardownSockets(reason);
    }
    if (this.#state === "closed") this.#core.forgetSession(this);
    this.#core.connectionClosed(this, reason, error);
  }

  /**
   * The client came back on a new connection before this one was seen to drop (a client that
   * noticed first, a server that would only notice at its heartbeat timeout): with its token,
   * the old connection is dropped now and the session waits for the new one to resume it.
   *
   * @param token The token the new connection presents.
   * @returns Whether the session was taken over (the token is its own, and it is open).
   */
  takeOver(token: Uint8Array): boolean {
    const session = this.#session;
    if (this.#state !== "open" || session === undefined || !sameToken(session.token, token)) {
      return false;
    }
    const old = this.#transport;
    // What the old connection still reports goes nowhere: this session has a new one.
    old.handOver(DROPPED);
    void old.abort();
    this.#endUdp();
    this.#state = "away";
    const keepRooms = this.#core.options.recovery?.keepRooms ?? true;
    for (const socket of this.#sockets()) socket.connectionLost("transport close", keepRooms);
    return true;
  }

  /**
   * A frame arrived.
   *
   * @param frame The frame.
   * @throws {ProtocolError} When the frame breaks the protocol here (the transport closes).
   */
  onFrame(frame: Frame): void {
    this.#lastHeard = performance.now();
    if (this.#state !== "open") {
      if (this.#state === "handshake") return this.#firstFrame(frame);
      if (this.#state === "authorizing") this.#whileAuthorizing(frame);
      return;
    }
    const rate = this.#rate;
    if (rate !== undefined && !rate.admit(frame.size, this.#lastHeard) && this.#overRate(frame)) {
      return;
    }
    const stream = this.#session?.stream;
    if (stream !== undefined) {
      if (frame.type === "control" && frame.schema === SessionAck) {
        return stream.confirm((frame.value as { received: number }).received);
      }
      if (isCounted(frame) && stream.receivedFrame()) this.#transport.send(stream.ackFrame());
    }
    const channel = frame.channel;
    if (frame.type === "control") {
      const schema = frame.schema;
      if (channel === ROOT_CHANNEL) {
        if (schema === Ping) {
          this.#transport.send(encodeFrame(Pong, frame.value as { timestamp: number }));
          return;
        }
        if (schema === Pong) {
          this.roundTrip.record((frame.value as { timestamp: number }).timestamp);
          return;
        }
        if (schema === EventName) {
          const { id, name } = frame.value as { id: number; name: string };
          return this.#incoming.declare(id, name);
        }
        if (schema === Connect) return this.#connect(frame.value as unknown as ConnectValue);
      }
      if (this.#draining?.has(channel)) {
        if (schema === Disconnect) this.#freeChannel(channel);
        return;
      }
      if (this.#authorizing?.has(channel)) {
        // The client gave up on a connect still being decided: forget it.
        if (schema === Disconnect) {
          this.#authorizing.delete(channel);
          this.channels.close(channel);
          this.#out(encodeFrame(Disconnect, {}, { channel }));
        }
        return;
      }
      const socket = this.#socketOn(channel);
      this.#lastActive = this.#lastHeard;
      socket.countIn(frame.size);
      if (schema === Event) {
        const value = frame.value as unknown as EventValue;
        socket.receiveEvent(
          this.#incoming.name(value.event),
          value.payloadType,
          value.payload,
          value.ackId,
        );
      } else if (schema === Ack) {
        const { ackId, payloadType, payload, error } = frame.value as unknown as AckValue;
        socket.receiveAck(ackId, payloadType, payload, error);
      } else if (schema === RoomEvent) {
        const value = frame.value as unknown as RoomEventValue;
        socket.receiveEvent(
          this.#incoming.name(value.event),
          value.payloadType,
          value.payload,
          undefined,
          value.room,
        );
      } else if (schema === RoomJoin) {
        socket.receiveJoin(frame.value as unknown as RoomJoinValue);
      } else if (schema === RoomLeave) {
        socket.receiveLeave((frame.value as { room: string }).room);
      } else if (schema === RoomCreate) {
        socket.receiveCreate(frame.value as unknown as RoomCreateValue);
      } else if (schema === RoomListRequest) {
        socket.receiveList(frame.value as unknown as RoomListRequestValue);
      } else if (schema === RoomWatch) {
        socket.receiveWatch((frame.value as { watch: boolean }).watch);
      } else if (schema === Disconnect) {
        if (channel === ROOT_CHANNEL) {
          this.close("client disconnect");
          return;
        }
        this.#removeSocket(channel);
        this.#freeChannel(channel);
        this.#out(encodeFrame(Disconnect, {}, { channel }));
        socket.teardown("client disconnect");
      } else {
        throw new ProtocolError(
          "protocol_violation",
          `A client may not send ${schema.name} on channel ${channel}`,
        );
      }
      return;
    }
    if (this.#draining?.has(channel)) return;
    const socket = this.#socketOn(channel);
    this.#lastActive = this.#lastHeard;
    socket.countIn(frame.size);
    if (frame.type === "message") socket.receiveMessage(frame.schema, frame.value);
    else if (frame.type === "raw" && this.#core.options.allowRaw) socket.receiveRaw(frame.data);
    else throw new ProtocolError("protocol_violation", "Raw frames are not allowed");
  }

  /**
   * A frame over the rate limit: with the `disconnect` policy the connection closes; with `drop`
   * the frame is dropped and counted, unless it must pass (pongs, event name declarations,
   * session acks and disconnects: dropping them would break the connection, not slow it), and
   * reading pauses for a moment.
   *
   * @returns Whether the frame was dropped.
   * @throws {LimitExceededError} With the `disconnect` policy.
   */
  #overRate(frame: Frame): boolean {
    const limit = this.#core.options.rateLimit!;
    if (limit.policy === "disconnect") {
      throw new LimitExceededError(
        "rate",
        limit.frames,
        `Over ${limit.frames} frames or ${limit.bytes} bytes a second`,
      );
    }
    if (frame.type === "control" && MUST_PASS.has(frame.schema)) return false;
    this.#countRateLimited();
    // What it sends meanwhile waits in TCP rather than costing decodes only to be dropped.
    this.#transport.pauseReading(RATE_LIMITED_PAUSE);
    return true;
  }

  /** Frames that arrive while the middleware of `/` decides: a client waits for its handshake. */
  #whileAuthorizing(frame: Frame): void {
    if (frame.type === "control" && frame.schema === Disconnect && frame.channel === ROOT_CHANNEL) {
      this.close("client disconnect", false);
      return;
    }
    if (frame.type === "control" && (frame.schema === Ping || frame.schema === Pong)) return;
    throw new ProtocolError("protocol_violation", "Frames were sent before the handshake");
  }

  #countRateLimited(): void {
    this.#rateLimited++;
    this.#core.stats.rateLimited++;
  }

  /** Frames of this connection the rate limit dropped. */
  get rateLimited(): number {
    return this.#rateLimited;
  }

  /**
   * Frames from an authentic, fresh datagram of the connection's bound UDP address. A datagram
   * carries events without acks, room events, event name declarations, message frames and (when
   * allowed) raw frames; anything else, or a frame that fails to decode, is dropped, and unlike
   * on TCP the connection stays open.
   *
   * @param type Unreliable or sequenced.
   * @param sequence The datagram's sequence number.
   * @param body The frames.
   * @returns Why (some of) the datagram was dropped, or `undefined`.
   */
  receiveDatagram(
    type: DatagramType,
    sequence: number,
    body: Uint8Array,
  ): DatagramDrop | undefined {
    if (this.#state !== "open") return "invalid";
    return this.#datagrams.receive(type, sequence, body);
  }

  /** The connection's UDP traffic, made on first use. */
  get #datagrams(): DatagramRouter {
    return this.#router ??= new DatagramRouter({
      path: () => this.#udp?.path,
      decode: {
        schemas: this.#core.options.schemas,
        channelSchemas: (channel: number) => this.#schemas?.get(channel),
        maxFrameSize: this.#core.options.maxFrameSize,
      },
      incoming: this.#incoming,
      outgoing: this.#core.eventNames,
      declared: this.#declared,
      sendTcp: (frame: Uint8Array) => this.#out(frame),
      allowRaw: this.#core.options.allowRaw,
      socketAt: (channel: number, frame: Frame) => {
        if (this.#draining?.has(channel) || this.#authorizing?.has(channel)) return null;
        // Over the rate limit, a datagram's frame is dropped whatever the policy.
        if (this.#rate !== undefined && !this.#rate.admit(frame.size, performance.now())) {
          this.#countRateLimited();
          return null;
        }
        const socket = this.#socketAt(channel);
        if (socket !== undefined) {
          this.#lastActive = performance.now();
          socket.countIn(frame.size);
        }
        return socket;
      },
    });
  }

  /**
   * The client's UDP address was proven by a hello.
   *
   * @param address The address.
   * @param rebound Whether it replaced another.
   */
  udpBound(address: TransportAddress, rebound: boolean): void {
    if (this.#state === "open") this.#core.udpBound(this, address, rebound);
  }

  #udpHandshake(): UdpHandshake {
    const session = this.#udp;
    const udp = this.#core.udp;
    if (session === undefined || udp === undefined) return {};
    return { udpPort: udp.announcedPort, udpKey: session.key, udpSession: session.id };
  }

  #endUdp(): void {
    if (this.#udp === undefined) return;
    this.#core.udp?.end(this.#udp);
  }

  #socketOn(channel: number): AnyServerSocket {
    const socket = this.#socketAt(channel);
    if (socket === undefined) {
      throw new ProtocolError("protocol_violation", `No namespace is open on channel ${channel}`);
    }
    return socket;
  }

  #firstFrame(frame: Frame): void {
    if (frame.type !== "control" || frame.schema !== Connect || frame.channel !== ROOT_CHANNEL) {
      throw new ProtocolError("protocol_violation", "The first frame must be a Connect to /");
    }
    const value = frame.value as unknown as ConnectValue;
    if (value.namespace !== "/" || value.channel !== ROOT_CHANNEL) {
      throw new ProtocolError("protocol_violation", "The first Connect must be to / on channel 0");
    }
    const core = this.#core;
    if (value.protocolVersion !== PROTOCOL_VERSION) {
      return this.#refuseConnection(
        ErrorCode.ProtocolMismatch,
        `The server speaks protocol version ${PROTOCOL_VERSION}, the client ${
          value.protocolVersion ?? "none"
        }`,
      );
    }
    const fingerprint = core.options.schemas.fingerprint;
    if (value.schemaFingerprint !== fingerprint) {
      return this.#refuseConnection(
        ErrorCode.SchemaMismatch,
        `The server's schema fingerprint is ${fingerprint}, the client's ${
          value.schemaFingerprint ?? "none"
        }`,
      );
    }
    if (value.sessionId !== undefined && value.recoveryToken !== undefined) {
      const session = core.claimSession(value.sessionId, value.recoveryToken, value.received ?? 0);
      if (session !== undefined) {
        // This connection resumes that session and is done.
        this.#state = "closed";
        session.resume(this.#transport, value.received ?? 0);
        core.connectionResumed(this, session);
        return;
      }
    }
    const root = core.namespaceFor("/")!;
    if (root.middleware.length === 0) return this.#open(value);
    const handshake = this.#handshakeOf(value);
    if (handshake === undefined) {
      return this.#refuseConnection(ErrorCode.Unauthorized, NOT_JSON);
    }
    this.#state = "authorizing";
    void this.#authorize(root, handshake, (data) => {
      if (this.#state !== "authorizing") return;
      if (typeof data === "string") return this.#refuseConnection(ErrorCode.Unauthorized, data);
      this.#open(value, { handshake, data });
    });
  }

  /** Opens the connection: its session, its UDP path, and the socket of `/`. */
  #open(value: ConnectValue, authorized?: Authorized): void {
    const core = this.#core;
    this.#state = "open";
    this.#rootFingerprint = core.options.schemas.fingerprint;
    this.#lastActive = this.#lastPing = performance.now();
    // A client asks for a recoverable session by sending its count (0) with its first connect;
    // one that does not (an older or simpler client) never hears of sessions.
    const recovery = core.options.recovery;
    if (recovery !== undefined && value.received !== undefined) {
      this.#session = {
        id: randomSocketId(),
        token: newRecoveryToken(),
        stream: new SessionStream({ maxFrames: recovery.maxFrames, maxBytes: recovery.maxBytes }),
      };
      core.sessionOpened(this);
    }
    this.#udp = core.udp?.open(this);
    core.connectionOpened(this);
    this.#connect(value, authorized);
  }

  #refuseConnection(code: ErrorCode, message: string): void {
    this.#transport.send(encodeFrame(ErrorMessage, { code, message, namespace: "/" }));
    this.#state = "closed";
    void this.#transport.close(this.#core.options.closeTimeout);
  }

  #refuse(code: ErrorCode, namespace: string, message: string): void {
    this.#out(encodeFrame(ErrorMessage, { code, message, namespace }));
  }

  /**
   * A connect of a namespace: refused, or its socket made (after its middleware, unless it comes
   * `authorized` already, as the first connect to `/` does).
   */
  #connect(value: ConnectValue, authorized?: Authorized): void {
    const { namespace: name, channel } = value;
    const core = this.#core;
    if (channel !== ROOT_CHANNEL && (this.channels.has(channel) || this.#draining?.has(channel))) {
      throw new ProtocolError("protocol_violation", `Channel ${channel} is in use`);
    }
    if (name !== "/" && channel === ROOT_CHANNEL) {
      throw new ProtocolError("protocol_violation", "Only / may be connected on channel 0");
    }
    const nsp = core.namespaceFor(name);
    if (nsp === undefined) {
      return this.#refuse(ErrorCode.InvalidNamespace, name, `Namespace ${name} does not exist`);
    }
    const open = this.channels.id(name);
    if (
      open !== undefined && (this.#socketAt(open) !== undefined || this.#authorizing?.has(open))
    ) {
      return this.#refuse(
        ErrorCode.AlreadyConnected,
        name,
        `Namespace ${name} is already connected on this connection`,
      );
    }
    const fingerprint = value.schemaFingerprint ?? this.#rootFingerprint;
    if (fingerprint !== nsp.schemas.fingerprint) {
      return this.#refuse(
        ErrorCode.SchemaMismatch,
        name,
        `The schema fingerprint of ${name} is ${nsp.schemas.fingerprint} on the server, ${fingerprint} on the client`,
      );
    }
    const max = core.options.maxNamespaces;
    if (this.#namespaceCount() >= max) {
      const error = new LimitExceededError(
        "namespaces",
        max,
        `At most ${max} namespaces a connection`,
      );
      this.#out(limitFrame(error, name));
      return;
    }
    const handshake = authorized?.handshake ?? this.#handshakeOf(value);
    if (handshake === undefined) return this.#refuse(ErrorCode.Unauthorized, name, NOT_JSON);
    if (channel !== ROOT_CHANNEL) this.channels.open(channel, name);
    if (authorized !== undefined || nsp.middleware.length === 0) {
      return this.#addSocket(nsp, channel, handshake, authorized?.data ?? {});
    }
    (this.#authorizing ??= new Map()).set(channel, name);
    void this.#authorize(nsp, handshake, (data) => {
      // Gone meanwhile: the connection closed, or the client gave up on the connect.
      if (this.#state !== "open" || this.#authorizing?.get(channel) !== name) return;
      this.#authorizing.delete(channel);
      if (typeof data !== "string") return this.#addSocket(nsp, channel, handshake, data);
      this.channels.close(channel);
      this.#refuse(ErrorCode.Unauthorized, name, data);
    });
  }

  /** What the server knows of a connect, or `undefined` when its auth payload is not JSON. */
  #handshakeOf(value: ConnectValue): SocketHandshake | undefined {
    let auth: JsonValue | undefined;
    if (value.auth !== undefined) {
      try {
        auth = JSON.parse(textDecoder.decode(value.auth)) as JsonValue;
      } catch {
        return undefined;
      }
    }
    const transport = this.#transport;
    return { address: transport.remoteAddress, secure: transport.secure, auth, time: new Date() };
  }

  /** Namespaces open or being connected on this connection, `/` included. */
  #namespaceCount(): number {
    return (this.#root === undefined ? 0 : 1) + (this.#others?.size ?? 0) +
      (this.#authorizing?.size ?? 0);
  }

  /**
   * Runs a namespace's middleware on a connect, then calls `done` with the socket's `data` or
   * the refusal's reason.
   */
  async #authorize(
    nsp: AnyNamespace,
    handshake: SocketHandshake,
    done: (data: object | string) => void,
  ): Promise<void> {
    const context = { namespace: nsp.name, handshake, data: {} };
    const refusal = await runMiddleware(nsp.middleware, context, (e) => this.#core.reportError(e));
    done(refusal ?? context.data);
  }

  /** Makes the socket of an accepted connect and sends its handshake. */
  #addSocket(
    nsp: AnyNamespace,
    channel: number,
    handshake: SocketHandshake,
    data: object,
  ): void {
    const core = this.#core;
    if (nsp.schemas !== core.options.schemas) {
      (this.#schemas ??= new Map()).set(channel, nsp.schemas);
    }
    const socket = new ServerSocket(nsp, this, core, channel, core.options.generateId(), handshake);
    socket.data = data;
    if (channel === ROOT_CHANNEL) this.#root = socket;
    else (this.#others ??= new Map()).set(channel, socket);
    if (channel === ROOT_CHANNEL) this.#transport.send(this.#rootHandshake(false));
    else this.#out(this.#handshake(socket));
    nsp.add(socket);
  }

  /** The `Handshake` of a socket's namespace. */
  #handshake(socket: AnyServerSocket, more: Partial<HandshakeValue> = {}): Uint8Array {
    const options = this.#core.options;
    return encodeFrame(Handshake, {
      namespace: socket.nsp.name,
      channel: socket.channel,
      socketId: socket.id,
      protocolVersion: PROTOCOL_VERSION,
      schemaFingerprint: socket.nsp.schemas.fingerprint,
      heartbeatInterval: options.heartbeatInterval,
      heartbeatTimeout: options.heartbeatTimeout,
      maxFrameSize: options.maxFrameSize,
      ...more,
    }, { channel: socket.channel });
  }

  /** The `Handshake` of `/`, with the session's and the UDP path's fields. */
  #rootHandshake(recovered: boolean): Uint8Array {
    const session = this.#session;
    return this.#handshake(this.#root!, {
      ...(session === undefined ? {} : {
        sessionId: session.id,
        recoveryToken: tokenBytes(session.token),
        recovered,
        received: session.stream.received,
      }),
      ...this.#udpHandshake(),
    });
  }

  /**
   * A client resumed this session on a new connection: the connection is handed over to the
   * session, the client learns how many of its frames arrived, and gets again every frame it
   * has not (`received` is its count).
   *
   * @param transport The new connection.
   * @param received How many of the session's frames the client had.
   */
  resume(transport: Transport, received: number): void {
    const session = this.#session!;
    const replay = session.stream.since(received)!;
    session.stream.confirm(received);
    session.token = newRecoveryToken();
    this.#transport = transport;
    transport.handOver(this);
    this.#state = "open";
    this.#keepOnClose = false;
    this.#closeReason = undefined;
    this.#lastHeard = this.#lastActive = this.#lastPing = performance.now();
    this.#udp = this.#core.udp?.open(this);
    transport.send(this.#rootHandshake(true));
    session.stream.resetTold();
    for (const frame of replay) transport.send(frame);
    for (const socket of this.#sockets()) socket.recovered();
  }

  /**
   * Whether a client that has `received` of the session's frames can resume it: every frame it
   * lacks is still kept.
   *
   * @param received The client's count.
   */
  canResume(received: number): boolean {
    return this.#state === "away" && this.#session?.stream.since(received) !== undefined;
  }

  #sockets(): AnyServerSocket[] {
    const sockets = [...this.#others?.values() ?? []];
    if (this.#root !== undefined) sockets.unshift(this.#root);
    return sockets;
  }
}

/**
 * Milliseconds a connection closed before its handshake (a handshake timeout) has to read why
 * and close its side.
 */
const TURNED_AWAY_LINGER = 250;

/** Milliseconds a connection over its rate limit is not read from (its frames wait in TCP). */
const RATE_LIMITED_PAUSE = 100;

/** Control frames the rate limit never drops: dropping them would break the connection. */
const MUST_PASS: ReadonlySet<Schema<object>> = new Set<Schema<object>>([
  Pong,
  EventName,
  SessionAck,
  Disconnect,
]);

/**
 * The `Error` frame of a limit: on channel 0, about `/` (the connection) or a namespace.
 *
 * @param error The limit.
 * @param namespace The namespace whose connect is refused, if it is only that.
 */
function limitFrame(error: LimitExceededError, namespace = "/"): Uint8Array {
  return encodeFrame(ErrorMessage, {
    code: ErrorCode.LimitExceeded,
    message: error.message,
    namespace,
    limit: error.limit,
  });
}

/** The refusal of a connect whose auth payload is not JSON. */
const NOT_JSON = "The auth payload is not JSON";

/** A connect the middleware let through: what the server knows of it, and the socket's `data`. */
interface Authorized {
  readonly handshake: SocketHandshake;
  readonly data: object;
}

/** The UDP fields of the handshake of `/`. */
interface UdpHandshake {
  udpPort?: number;
  udpKey?: Uint8Array;
  udpSession?: number;
}
