/**
 * A client's socket in one namespace, on the server.
 *
 * @module
 */

import {
  Ack,
  encodeFrame,
  encodeRawFrame,
  ErrorCode,
  Event,
  PayloadType,
  RoomJoined,
  RoomJoinError,
  RoomLeft,
  type Schema,
} from "../protocol/mod.ts";
import { type AckOutcome, AckTracker } from "../session/ack_tracker.ts";
import type { DisconnectReason } from "../session/disconnect_reason.ts";
import { SocketClosedError } from "../session/errors.ts";
import {
  checkEventName,
  type DefaultEvents,
  type EmitArgs,
  type EventHandler,
  type EventInfo,
  type EventNames,
  type EventReply,
  type EventsMap,
} from "../session/event_map.ts";
import { Listeners } from "../session/listeners.ts";
import { decodePayload, encodePayload, type JsonValue, type Payload } from "../session/payload.ts";
import type { SendStatus, TransportAddress } from "../transport/transport.ts";
import { BroadcastOperator } from "./broadcast_operator.ts";
import type { Namespace } from "./namespace.ts";
import type { AckValue, RoomJoinValue, ServerConnection } from "./server_connection.ts";
import type { ServerCore } from "./server_core.ts";

/**
 * What became of an emit:
 * - `sent`: queued for the client;
 * - `dropped`: volatile, and the connection's send queue was full, so it was discarded;
 * - `overflow`: the send queue was full, so the connection was disconnected
 *   (`send queue overflow`);
 * - `closed`: the socket was disconnected already, so nothing happened.
 */
export type EmitStatus = "sent" | "dropped" | "overflow" | "closed";

/** Options of `emit` and `send`. */
export interface EmitOptions {
  /**
   * Whether the frame may be dropped (and counted) when the connection's send queue is full,
   * rather than disconnecting the connection. For state that the next update replaces.
   *
   * @default {false}
   */
  volatile?: boolean;
}

/** Options of `emitWithAck`. */
export interface AckOptions {
  /**
   * Milliseconds to wait for the acknowledgement.
   *
   * @default {the server's `ackTimeout` (10000)}
   */
  timeout?: number;
}

/** What the server knows of a socket's connect. */
export interface SocketHandshake {
  /** The client's address. */
  readonly address: TransportAddress;
  /** Whether the connection is TLS. */
  readonly secure: boolean;
  /** The auth payload the client sent with its connect (a JSON value), if any. */
  readonly auth: JsonValue | undefined;
  /** When the socket connected. */
  readonly time: Date;
}

/** Traffic and latency of one socket. */
export interface SocketStats {
  /** Bytes received on the socket's channel. */
  readonly bytesIn: number;
  /** Bytes sent on the socket's channel. */
  readonly bytesOut: number;
  /** Frames received on the socket's channel. */
  readonly framesIn: number;
  /** Frames sent on the socket's channel. */
  readonly framesOut: number;
  /** The connection's last heartbeat round trip in milliseconds, once measured. */
  readonly rtt: number | undefined;
  /** The connection's smoothed round trip in milliseconds, once measured. */
  readonly smoothedRtt: number | undefined;
  /** Acknowledgements awaited from the client. */
  readonly pendingAcks: number;
  /** Acknowledgements that matched nothing awaited (late, duplicate, unknown), ignored. */
  readonly ignoredAcks: number;
  /** Volatile frames the connection dropped because its send queue was full. */
  readonly dropped: number;
}

/** The lifecycle events of a {@linkcode ServerSocket}. */
export interface ServerSocketEvents {
  /** The socket is leaving; its rooms are still readable. */
  disconnecting: (reason: DisconnectReason) => void;
  /** The socket has left. */
  disconnect: (reason: DisconnectReason) => void;
  /** A handler of this socket failed. */
  error: (error: unknown) => void;
  /** A raw frame arrived on the socket's channel (with `allowRaw`). */
  raw: (data: Uint8Array) => void;
}

const LIFECYCLE = new Set(["disconnecting", "disconnect", "error", "raw"]);

/** A message handler, by schema. */
type MessageListener = (value: object, socket: ServerSocket) => unknown;

/**
 * A client's socket in one namespace. Each connection has one per namespace it connected; each
 * socket sits in the room named by its own id.
 *
 * @typeParam Listen Events the client sends (what `on` hears).
 * @typeParam Emit Events the server sends (what `emit` takes).
 * @typeParam Data The type of {@linkcode ServerSocket.data}.
 */
export class ServerSocket<
  Listen extends EventsMap = DefaultEvents,
  Emit extends EventsMap = DefaultEvents,
  Data = Record<string, unknown>,
> {
  /** The socket's id: 128 random bits, as 22 base64url characters. */
  readonly id: string;
  /** The namespace. */
  readonly nsp: Namespace<Listen, Emit, Data>;
  /** The channel the namespace uses on this connection. */
  readonly channel: number;
  /** What the server knows of the connect. */
  readonly handshake: SocketHandshake;
  /** The application's state for this socket. */
  data: Data = {} as Data;

  #connection: ServerConnection;
  #core: ServerCore;
  #connected = true;
  #lifecycle: Listeners;
  #events: Listeners;
  #messages: Listeners;
  #acks: AckTracker;
  #bytesIn = 0;
  #bytesOut = 0;
  #framesIn = 0;
  #framesOut = 0;

  /**
   * Made by the server for each accepted namespace connect.
   *
   * @ignore
   */
  constructor(
    nsp: Namespace<Listen, Emit, Data>,
    connection: ServerConnection,
    core: ServerCore,
    channel: number,
    id: string,
    handshake: SocketHandshake,
  ) {
    this.nsp = nsp;
    this.#connection = connection;
    this.#core = core;
    this.channel = channel;
    this.id = id;
    this.handshake = handshake;
    this.#acks = new AckTracker(core.timers);
    this.#lifecycle = new Listeners((error, event) => {
      if (event !== "error") this.#reportError(error);
      else core.reportError(error);
    });
    this.#events = new Listeners((error) => this.#reportError(error));
    this.#messages = new Listeners((error) => this.#reportError(error));
  }

  /** @ignore */
  get connection(): ServerConnection {
    return this.#connection;
  }

  /** Whether the socket is connected. */
  get connected(): boolean {
    return this.#connected;
  }

  /** The rooms the socket is in, its own included. */
  get rooms(): ReadonlySet<string> {
    return new Set(this.nsp.adapter.socketRooms(this.id));
  }

  /** Traffic and latency. */
  get stats(): SocketStats {
    const roundTrip = this.#connection.roundTrip;
    return {
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      framesIn: this.#framesIn,
      framesOut: this.#framesOut,
      rtt: roundTrip.last,
      smoothedRtt: roundTrip.smoothed,
      pendingAcks: this.#acks.size,
      ignoredAcks: this.#acks.ignored,
      dropped: this.#connection.transport.stats.dropped,
    };
  }

  /**
   * Adds a listener: of a lifecycle event (`disconnecting`, `disconnect`, `error`, `raw`), or of
   * an application event, whose return value is the acknowledgement when the client asks for one.
   *
   * @param event The event.
   * @param listener The listener.
   * @returns This socket.
   * @throws {TypeError} For a reserved name that is not an event of sockets.
   */
  on<E extends keyof ServerSocketEvents>(event: E, listener: ServerSocketEvents[E]): this;
  /**
   * Adds a listener of an application event: it gets the payload and the event's info, and
   * what it returns (or resolves to) is the acknowledgement when the sender asks for one.
   *
   * @param event The event.
   * @param listener The listener.
   * @returns This socket.
   * @throws {TypeError} For a reserved or invalid name.
   */
  on<E extends EventNames<Listen>>(event: E, listener: EventHandler<Listen[E]>): this;
  on(event: string, listener: (...args: never[]) => unknown): this {
    if (LIFECYCLE.has(event)) this.#lifecycle.on(event, listener);
    else {
      checkEventName(event);
      this.#events.on(event, listener);
    }
    return this;
  }

  /**
   * Adds a listener that runs once.
   *
   * @param event The event.
   * @param listener The listener.
   * @returns This socket.
   */
  once<E extends keyof ServerSocketEvents>(event: E, listener: ServerSocketEvents[E]): this;
  /**
   * Adds a listener of an application event that runs once.
   *
   * @param event The event.
   * @param listener The listener.
   * @returns This socket.
   * @throws {TypeError} For a reserved or invalid name.
   */
  once<E extends EventNames<Listen>>(event: E, listener: EventHandler<Listen[E]>): this;
  once(event: string, listener: (...args: never[]) => unknown): this {
    if (LIFECYCLE.has(event)) this.#lifecycle.once(event, listener);
    else {
      checkEventName(event);
      this.#events.once(event, listener);
    }
    return this;
  }

  /**
   * Removes a listener, or all of an event's.
   *
   * @param event The event.
   * @param listener The listener; every one of the event when absent.
   * @returns This socket.
   */
  off(event: string, listener?: (...args: never[]) => unknown): this {
    (LIFECYCLE.has(event) ? this.#lifecycle : this.#events).off(event, listener);
    return this;
  }

  /**
   * Adds a listener of an application message sent as a message frame (`send` on the client):
   * the cheapest form, for game state.
   *
   * @param schema The message's schema.
   * @param listener Gets the message's value.
   * @returns This socket.
   */
  onMessage<V extends object>(schema: Schema<V>, listener: (value: V) => void): this {
    this.#messages.on(messageKey(schema), listener);
    return this;
  }

  /**
   * Removes a message listener, or all of a schema's.
   *
   * @param schema The message's schema.
   * @param listener The listener; every one of the schema when absent.
   * @returns This socket.
   */
  offMessage<V extends object>(schema: Schema<V>, listener?: (value: V) => void): this {
    this.#messages.off(messageKey(schema), listener as MessageListener | undefined);
    return this;
  }

  /**
   * Sends an event to the client.
   *
   * @param event The event's name.
   * @param args The payload, then options (`volatile`).
   * @returns What became of it; `closed` (a no-op) when the socket is disconnected.
   * @throws {TypeError} For a reserved or invalid name, or a payload that cannot be encoded.
   * @throws {RangeError} When the payload exceeds 65535 bytes or the frame `maxFrameSize`.
   */
  emit<E extends EventNames<Emit>>(event: E, ...args: EmitArgs<Emit[E], EmitOptions>): EmitStatus {
    checkEventName(event);
    const [data, options] = args;
    if (!this.#connected) return "closed";
    const frame = this.#encodeEvent(event, data as Payload, undefined);
    return this.#send(frame, options?.volatile ?? false, event);
  }

  /**
   * Sends an event and waits for the client's acknowledgement (its handler's return value).
   *
   * @param event The event's name.
   * @param args The payload, then options (`timeout`).
   * @returns The reply.
   * @throws {AckTimeoutError} When no acknowledgement arrives in time.
   * @throws {AckError} When the client's handler failed, or it had none.
   * @throws {SocketClosedError} When the socket is or becomes disconnected first.
   */
  emitWithAck<E extends EventNames<Emit>>(
    event: E,
    ...args: EmitArgs<Emit[E], AckOptions>
  ): Promise<EventReply<Emit[E]>> {
    try {
      checkEventName(event);
    } catch (error) {
      return Promise.reject(error);
    }
    const [data, options] = args;
    const timeout = options?.timeout ?? this.#core.options.ackTimeout;
    return new Promise((resolve, reject) => {
      if (!this.#connected) return reject(new SocketClosedError(this.nsp.name));
      const ackId = this.#core.ackIds.next();
      const frame = this.#encodeEvent(event, data as Payload, ackId);
      this.expectAck(ackId, event, timeout, (outcome) => {
        if (outcome.ok) resolve(outcome.value as EventReply<Emit[E]>);
        else reject(outcome.error);
      });
      const status = this.#send(frame, false, event);
      if (status !== "sent") {
        this.#acks.settle(ackId, { ok: false, error: new SocketClosedError(this.nsp.name) });
      }
    });
  }

  /**
   * Sends an application message as a message frame: no event name, no payload type, the
   * cheapest form. The client hears it with `onMessage(schema, ...)`.
   *
   * @param schema The message's schema (registered on both sides).
   * @param value The message.
   * @param options `volatile`.
   * @returns What became of it.
   * @throws {TypeError} When a field is missing or has the wrong type.
   * @throws {RangeError} When a value is out of range, or the frame exceeds `maxFrameSize`.
   */
  send<V extends object>(schema: Schema<V>, value: V, options?: EmitOptions): EmitStatus {
    if (!this.#connected) return "closed";
    const frame = encodeFrame(schema, value, {
      channel: this.channel,
      maxFrameSize: this.#core.options.maxFrameSize,
    });
    this.#core.stats.framesEncoded++;
    return this.#send(frame, options?.volatile ?? false);
  }

  /**
   * Adds the socket to rooms, creating those that do not exist. The client is told
   * (`RoomJoined`) and the rooms' members too (`MemberEntered`) when `sendRoomEvents` is on.
   *
   * @param rooms A room or several.
   */
  join(rooms: string | readonly string[]): void {
    if (!this.#connected) return;
    const list = typeof rooms === "string" ? [rooms] : rooms;
    this.nsp.joinRooms(this, list, this.#core.options.sendRoomEvents);
  }

  /**
   * Removes the socket from a room. Its own room cannot be left.
   *
   * @param room The room.
   */
  leave(room: string): void {
    if (!this.#connected || room === this.id) return;
    this.nsp.leaveRoom(this, room, this.#core.options.sendRoomEvents);
  }

  /**
   * Targets members of a room (or rooms), except this socket; receivers see this socket's id as
   * the sender of room events.
   *
   * @param rooms A room or several.
   * @returns A new broadcast target.
   */
  to(rooms: string | readonly string[]): BroadcastOperator<Emit> {
    return this.broadcast.to(rooms);
  }

  /**
   * Same as {@linkcode ServerSocket.to}.
   *
   * @param rooms A room or several.
   * @returns A new broadcast target.
   */
  in(rooms: string | readonly string[]): BroadcastOperator<Emit> {
    return this.to(rooms);
  }

  /**
   * Targets every socket of the namespace except this one and the members of `rooms`.
   *
   * @param rooms A room or several.
   * @returns A new broadcast target.
   */
  except(rooms: string | readonly string[]): BroadcastOperator<Emit> {
    return this.broadcast.except(rooms);
  }

  /** Targets every socket of the namespace except this one. */
  get broadcast(): BroadcastOperator<Emit> {
    return new BroadcastOperator<Emit>(this.nsp, new Set(), new Set([this.id]), this.id);
  }

  /**
   * Sends raw bytes on the socket's channel (a raw frame), for a client that allows them.
   *
   * @param data The bytes.
   * @param options `volatile`.
   * @returns What became of them.
   */
  sendRaw(data: Uint8Array, options?: EmitOptions): EmitStatus {
    if (!this.#connected) return "closed";
    const frame = encodeRawFrame(data, {
      channel: this.channel,
      maxFrameSize: this.#core.options.maxFrameSize,
    });
    return this.#send(frame, options?.volatile ?? false);
  }

  /**
   * Disconnects the socket (`server disconnect`). The client is told. Disconnecting the root
   * namespace's socket, or passing `close`, closes the whole connection.
   *
   * @param close Whether to close the connection, with all its namespaces.
   */
  disconnect(close = false): void {
    if (!this.#connected) return;
    if (close) void this.#connection.close("server disconnect");
    else this.#connection.disconnectSocket(this, "server disconnect");
  }

  /** @ignore */
  countIn(bytes: number): void {
    this.#framesIn++;
    this.#bytesIn += bytes;
  }

  /** @ignore */
  countOut(bytes: number): void {
    this.#framesOut++;
    this.#bytesOut += bytes;
  }

  /** @ignore */
  expectAck(
    ackId: number,
    event: string,
    timeout: number,
    settle: (outcome: AckOutcome) => void,
  ): void {
    this.#acks.add(ackId, event, timeout, settle);
  }

  /** @ignore */
  receiveEvent(
    event: string,
    payloadType: number,
    payload: Uint8Array | undefined,
    ackId: number | undefined,
    room?: string,
  ): void {
    const data = decodePayload(payloadType, payload, this.#core.options.schemas);
    const info: EventInfo = room === undefined
      ? { wantsAck: ackId !== undefined }
      : { room, wantsAck: false };
    if (!this.#events.has(event)) {
      if (ackId !== undefined) this.#replyError(ackId, `No handler for "${event}"`);
      return;
    }
    const result = this.#events.emit(event, data, info);
    if (ackId === undefined) return;
    if (result instanceof Promise) {
      result.then(
        (value) => this.#reply(ackId, value),
        (error) => this.#replyError(ackId, errorMessage(error)),
      );
    } else this.#reply(ackId, result);
  }

  /** @ignore */
  receiveAck(value: AckValue): void {
    if (value.error !== undefined) this.#acks.fail(value.ackId, value.error);
    else {
      const data = decodePayload(value.payloadType, value.payload, this.#core.options.schemas);
      this.#acks.settle(value.ackId, { ok: true, value: data });
    }
  }

  /** @ignore */
  receiveMessage(schema: Schema<object>, value: object): void {
    this.#messages.emit(messageKey(schema), value, this);
  }

  /** @ignore */
  receiveRaw(data: Uint8Array): void {
    this.#lifecycle.emit("raw", data);
  }

  /** @ignore */
  receiveJoin(request: RoomJoinValue): void {
    void this.#join(request);
  }

  /** @ignore */
  receiveLeave(room: string): void {
    if (room === this.id) return;
    // The reply below is the one RoomLeft; leaveRoom must not send another.
    this.nsp.leaveRoom(this, room, false);
    this.#sendControl(encodeFrame(RoomLeft, { room }, { channel: this.channel }));
  }

  /** @ignore */
  teardown(reason: DisconnectReason): void {
    if (!this.#connected) return;
    this.#lifecycle.emit("disconnecting", reason);
    this.#connected = false;
    this.nsp.remove(this);
    this.#acks.failAll(new SocketClosedError(this.nsp.name));
    this.#lifecycle.emit("disconnect", reason);
  }

  /** @ignore */
  deliverControl(frame: Uint8Array): void {
    this.#sendControl(frame);
  }

  async #join(request: RoomJoinValue): Promise<void> {
    const { room } = request;
    const refuse = (message: string) =>
      this.#sendControl(encodeFrame(RoomJoinError, {
        room,
        code: ErrorCode.JoinRefused,
        message,
        ...(request.requestId === undefined ? {} : { requestId: request.requestId }),
      }, { channel: this.channel }));
    if (room !== this.id && this.nsp.sockets.has(room)) {
      return refuse("A socket's own room cannot be joined");
    }
    const hook = this.nsp.joinHook;
    if (hook !== undefined) {
      let verdict: boolean | string | void;
      try {
        verdict = await hook(this, room, request);
      } catch (error) {
        this.#reportError(error);
        verdict = false;
      }
      if (!this.#connected) return;
      if (verdict === false) return refuse("Refused by the server");
      if (typeof verdict === "string") return refuse(verdict);
    }
    if (request.leave !== undefined && request.leave !== this.id) {
      this.nsp.leaveRoom(this, request.leave, true);
    }
    this.nsp.joinRooms(this, [room], false);
    // The answer to the request, even when the socket was in the room already.
    this.#sendControl(encodeFrame(RoomJoined, { room }, { channel: this.channel }));
  }

  #encodeEvent(event: string, data: Payload, ackId: number | undefined): Uint8Array {
    const encoded = encodePayload(data);
    const frame = encodeFrame(Event, {
      event: this.#core.eventNames.id(event),
      ...encoded,
      ...(ackId === undefined ? {} : { ackId }),
    }, { channel: this.channel, maxFrameSize: this.#core.options.maxFrameSize });
    this.#core.stats.framesEncoded++;
    return frame;
  }

  #send(frame: Uint8Array, volatile: boolean, event?: string): EmitStatus {
    const status = this.#connection.send(frame, volatile, event);
    if (status === "queued") this.countOut(frame.length);
    return emitStatus(status);
  }

  #sendControl(frame: Uint8Array): void {
    if (this.#connected) this.#send(frame, false);
  }

  #reply(ackId: number, value: unknown): void {
    if (!this.#connected) return;
    let frame: Uint8Array;
    try {
      frame = encodeFrame(Ack, { ackId, ...encodePayload(value as Payload) }, {
        channel: this.channel,
        maxFrameSize: this.#core.options.maxFrameSize,
      });
    } catch (error) {
      this.#reportError(error);
      return this.#replyError(ackId, "The reply could not be encoded");
    }
    this.#send(frame, false);
  }

  #replyError(ackId: number, message: string): void {
    this.#sendControl(encodeFrame(Ack, { ackId, payloadType: PayloadType.None, error: message }, {
      channel: this.channel,
    }));
  }

  #reportError(error: unknown): void {
    if (this.#lifecycle.has("error")) this.#lifecycle.emit("error", error);
    else this.nsp.reportError(error, this);
    if (this.#core.options.closeOnError) this.disconnect();
  }
}

/**
 * Maps a transport's send status to an emit's.
 *
 * @param status What the transport did.
 * @returns What the emit reports.
 */
export function emitStatus(status: SendStatus): EmitStatus {
  return status === "queued" ? "sent" : status;
}

function messageKey(schema: Schema<object>): string {
  return `${schema.code}.${schema.version}`;
}

function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 1000 ? text.slice(0, 1000) : text;
}
