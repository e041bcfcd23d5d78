/**
 * A namespace socket on the client: one per namespace connected on the client's connection.
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
  RoomEvent,
  RoomJoin,
  RoomLeave,
  type Schema,
} from "../protocol/mod.ts";
import { type AckIds, AckTracker } from "../session/ack_tracker.ts";
import type { DisconnectReason } from "../session/disconnect_reason.ts";
import {
  ConnectError,
  JoinError,
  type JoinErrorCode,
  SocketClosedError,
} from "../session/errors.ts";
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
import { decodePayload, encodePayload, type Payload } from "../session/payload.ts";
import type { TimerEntry, TimerQueue } from "../session/timer_queue.ts";
import type { SendStatus } from "../transport/transport.ts";
import type { ResolvedClientOptions } from "./client_options.ts";

/**
 * What became of an emit: `sent` (queued), `dropped` (volatile, send queue full), `overflow`
 * (send queue full: the connection closed with `send queue overflow`), or `closed` (the socket is
 * disconnected: a no-op).
 */
export type ClientEmitStatus = "sent" | "dropped" | "overflow" | "closed";

/** Options of `emit` and `send`. */
export interface ClientEmitOptions {
  /**
   * Whether the frame may be dropped (and counted) when the send queue is full, rather than
   * closing the connection.
   *
   * @default {false}
   */
  volatile?: boolean;
}

/** Options of `emitWithAck`. */
export interface ClientAckOptions {
  /**
   * Milliseconds to wait for the acknowledgement.
   *
   * @default {the client's `ackTimeout` (10000)}
   */
  timeout?: number;
}

/** Options of `join`. */
export interface JoinOptions {
  /** A room to leave in the same step. */
  leave?: string;
  /** The room's key, for rooms that need one. */
  key?: string;
  /** The player's name, which the server's join hook reads as `request.player`. */
  player?: string;
  /**
   * Milliseconds to wait for the server's answer.
   *
   * @default {the client's `ackTimeout` (10000)}
   */
  timeout?: number;
}

/** A member of a room, as `member_entered` and `member_left` report it. */
export interface RoomMember {
  /** The room. */
  readonly room: string;
  /** The member's socket id. */
  readonly socketId: string;
  /** The member's player name, if known. */
  readonly player?: string;
}

/** What the server's handshake of a namespace said. */
export interface HandshakeInfo {
  /** The namespace. */
  readonly namespace: string;
  /** The socket's id. */
  readonly socketId: string;
  /** The server's heartbeat interval, in milliseconds. */
  readonly heartbeatInterval: number;
  /** The server's heartbeat timeout, in milliseconds. */
  readonly heartbeatTimeout: number;
  /** The largest frame the server accepts. */
  readonly maxFrameSize: number;
}

/** The lifecycle events of a {@linkcode ClientSocket}. */
export interface ClientSocketEvents {
  /** The namespace's handshake arrived. */
  connect: (info: HandshakeInfo) => void;
  /** The server refused the namespace, or it could not be connected. */
  connect_error: (error: ConnectError) => void;
  /** The socket left the namespace. */
  disconnect: (reason: DisconnectReason) => void;
  /** The socket is now in a room. */
  room_joined: (room: string) => void;
  /** The socket is no longer in a room. */
  room_left: (room: string) => void;
  /** Another socket entered one of this socket's rooms. */
  member_entered: (member: RoomMember) => void;
  /** Another socket left one of this socket's rooms. */
  member_left: (member: RoomMember) => void;
  /** A raw frame arrived on the socket's channel (with `allowRaw`). */
  raw: (data: Uint8Array) => void;
  /** A handler of this socket failed. */
  error: (error: unknown) => void;
}

const LIFECYCLE = new Set([
  "connect",
  "connect_error",
  "disconnect",
  "room_joined",
  "room_left",
  "member_entered",
  "member_left",
  "raw",
  "error",
]);

/** What a socket needs from its client. @ignore */
export interface ClientLink {
  readonly options: ResolvedClientOptions;
  readonly timers: TimerQueue;
  readonly ackIds: AckIds;
  /** The server's frame limit, once known. */
  serverMaxFrameSize(): number;
  send(frame: Uint8Array, volatile: boolean, event?: string): SendStatus;
  eventId(event: string): number;
  /** The socket asks to leave its namespace. */
  // deno-lint-ignore no-explicit-any
  leave(socket: ClientSocket<any, any>): void;
  reportError(error: unknown): void;
}

interface PendingJoin {
  resolve: () => void;
  reject: (error: Error) => void;
  timer: TimerEntry;
}

/**
 * A socket in one namespace of the client's connection.
 *
 * @typeParam Listen Events the server sends (what `on` hears).
 * @typeParam Emit Events the client sends (what `emit` takes).
 */
export class ClientSocket<
  Listen extends EventsMap = DefaultEvents,
  Emit extends EventsMap = DefaultEvents,
> {
  /** The namespace. */
  readonly namespace: string;
  /** The channel the namespace uses on this connection. */
  readonly channel: number;
  /** Resolves with this socket when the handshake arrives; rejects with a `ConnectError`. */
  readonly ready: Promise<this>;
  #id: string | undefined;
  #state: "connecting" | "open" | "closed" = "connecting";
  #link: ClientLink;
  #lifecycle: Listeners;
  #events: Listeners;
  #messages: Listeners;
  #acks: AckTracker;
  #rooms = new Set<string>();
  #joins = new Map<string, PendingJoin>();
  #leaves = new Map<string, PendingJoin>();
  #settleReady!: (error?: ConnectError) => void;

  /**
   * Made by the client's `connect` and `of`.
   *
   * @ignore
   */
  constructor(namespace: string, channel: number, link: ClientLink) {
    this.namespace = namespace;
    this.channel = channel;
    this.#link = link;
    this.#acks = new AckTracker(link.timers);
    this.#lifecycle = new Listeners((error, event) => {
      if (event !== "error") this.#reportError(error);
      else link.reportError(error);
    });
    this.#events = new Listeners((error) => this.#reportError(error));
    this.#messages = new Listeners((error) => this.#reportError(error));
    this.ready = new Promise<this>((resolve, reject) => {
      this.#settleReady = (error) => error === undefined ? resolve(this) : reject(error);
    });
    this.ready.catch(() => {});
  }

  /** The socket's id, given by the server's handshake; `undefined` before it. */
  get id(): string | undefined {
    return this.#id;
  }

  /** Whether the handshake has arrived and the socket has not left. */
  get connected(): boolean {
    return this.#state === "open";
  }

  /** The rooms the server has said this socket is in (its own room not included). */
  get rooms(): ReadonlySet<string> {
    return this.#rooms;
  }

  /** Acknowledgements awaited from the server, and those ignored (late, duplicate, unknown). */
  get ackStats(): { readonly pending: number; readonly ignored: number } {
    return { pending: this.#acks.size, ignored: this.#acks.ignored };
  }

  /**
   * Adds a listener: of a lifecycle event, or of an application event, whose return value is
   * the acknowledgement when the server asks for one.
   *
   * @param event The event.
   * @param listener The listener.
   * @returns This socket.
   * @throws {TypeError} For a reserved name that is not an event of client sockets.
   */
  on<E extends keyof ClientSocketEvents>(event: E, listener: ClientSocketEvents[E]): this;
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
  once<E extends keyof ClientSocketEvents>(event: E, listener: ClientSocketEvents[E]): this;
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
   * Adds a listener of an application message sent as a message frame.
   *
   * @param schema The message's schema.
   * @param listener Gets the message's value.
   * @returns This socket.
   */
  onMessage<V extends object>(schema: Schema<V>, listener: (value: V) => void): this {
    this.#messages.on(`${schema.code}.${schema.version}`, listener);
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
    this.#messages.off(`${schema.code}.${schema.version}`, listener as never);
    return this;
  }

  /**
   * Sends an event to the server.
   *
   * @param event The event's name.
   * @param args The payload, then options (`volatile`).
   * @returns What became of it; `closed` (a no-op) when the socket is not connected.
   * @throws {TypeError} For a reserved or invalid name, or a payload that cannot be encoded.
   * @throws {RangeError} When the payload exceeds 65535 bytes or the frame the server's limit.
   */
  emit<E extends EventNames<Emit>>(
    event: E,
    ...args: EmitArgs<Emit[E], ClientEmitOptions>
  ): ClientEmitStatus {
    checkEventName(event);
    const [data, options] = args;
    if (this.#state !== "open") return "closed";
    const frame = this.#encodeEvent(event, data as Payload, undefined);
    return this.#send(frame, options?.volatile ?? false, event);
  }

  /**
   * Sends an event and waits for the server's acknowledgement (its handler's return value).
   *
   * @param event The event's name.
   * @param args The payload, then options (`timeout`).
   * @returns The reply.
   * @throws {AckTimeoutError} When no acknowledgement arrives in time.
   * @throws {AckError} When the server's handler failed, or it had none.
   * @throws {SocketClosedError} When the socket is or becomes disconnected first.
   */
  emitWithAck<E extends EventNames<Emit>>(
    event: E,
    ...args: EmitArgs<Emit[E], ClientAckOptions>
  ): Promise<EventReply<Emit[E]>> {
    try {
      checkEventName(event);
    } catch (error) {
      return Promise.reject(error);
    }
    const [data, options] = args;
    return new Promise((resolve, reject) => {
      if (this.#state !== "open") return reject(new SocketClosedError(this.namespace));
      const ackId = this.#link.ackIds.next();
      const frame = this.#encodeEvent(event, data as Payload, ackId);
      const timeout = options?.timeout ?? this.#link.options.ackTimeout;
      this.#acks.add(ackId, event, timeout, (outcome) => {
        if (outcome.ok) resolve(outcome.value as EventReply<Emit[E]>);
        else reject(outcome.error);
      });
      if (this.#send(frame, false, event) !== "sent") {
        this.#acks.settle(ackId, { ok: false, error: new SocketClosedError(this.namespace) });
      }
    });
  }

  /**
   * Sends an application message as a message frame: the cheapest form, for game state. The
   * server hears it with `onMessage(schema, ...)`.
   *
   * @param schema The message's schema (registered on both sides).
   * @param value The message.
   * @param options `volatile`.
   * @returns What became of it.
   */
  send<V extends object>(
    schema: Schema<V>,
    value: V,
    options?: ClientEmitOptions,
  ): ClientEmitStatus {
    if (this.#state !== "open") return "closed";
    const frame = encodeFrame(schema, value, {
      channel: this.channel,
      maxFrameSize: this.#link.serverMaxFrameSize(),
    });
    return this.#send(frame, options?.volatile ?? false);
  }

  /**
   * Sends raw bytes on the socket's channel, for a server that allows them (`allowRaw`).
   *
   * @param data The bytes.
   * @param options `volatile`.
   * @returns What became of them.
   */
  sendRaw(data: Uint8Array, options?: ClientEmitOptions): ClientEmitStatus {
    if (this.#state !== "open") return "closed";
    const frame = encodeRawFrame(data, {
      channel: this.channel,
      maxFrameSize: this.#link.serverMaxFrameSize(),
    });
    return this.#send(frame, options?.volatile ?? false);
  }

  /**
   * Targets a room: the server hears the event with the room, and decides what to do with it
   * (typically relay it to the room's members).
   *
   * @param room The room.
   * @returns An object whose `emit` sends a room event.
   */
  to(room: string): {
    emit<E extends EventNames<Emit>>(
      event: E,
      ...args: EmitArgs<Emit[E], ClientEmitOptions>
    ): ClientEmitStatus;
  } {
    return {
      emit: (event, ...args) => {
        checkEventName(event);
        const [data, options] = args;
        if (this.#state !== "open") return "closed";
        const frame = encodeFrame(RoomEvent, {
          room,
          event: this.#link.eventId(event),
          ...encodePayload(data as Payload),
        }, { channel: this.channel, maxFrameSize: this.#link.serverMaxFrameSize() });
        return this.#send(frame, options?.volatile ?? false, event);
      },
    };
  }

  /**
   * Asks the server to put this socket in a room.
   *
   * @param room The room.
   * @param options A room to leave in the same step, a key, a player name, a timeout.
   * @returns A promise that resolves when the server confirms.
   * @throws {JoinError} When the server refuses, or does not answer in time (`timeout`).
   * @throws {SocketClosedError} When the socket is not connected.
   */
  join(room: string, options: JoinOptions = {}): Promise<void> {
    if (this.#state !== "open") return Promise.reject(new SocketClosedError(this.namespace));
    const existing = this.#joins.get(room);
    if (existing !== undefined) {
      existing.reject(new JoinError("refused", room, "Superseded by a later join"));
    }
    return new Promise<void>((resolve, reject) => {
      const timeout = options.timeout ?? this.#link.options.ackTimeout;
      const timer = this.#link.timers.schedule(timeout, () => {
        if (this.#joins.get(room)?.timer !== timer) return;
        this.#joins.delete(room);
        reject(new JoinError("timeout", room, `No answer to joining ${room} within ${timeout} ms`));
      });
      this.#joins.set(room, { resolve, reject, timer });
      const { leave, key, player } = options;
      this.#send(
        encodeFrame(RoomJoin, {
          room,
          ...(leave === undefined ? {} : { leave }),
          ...(key === undefined ? {} : { key }),
          ...(player === undefined ? {} : { player }),
        }, { channel: this.channel }),
        false,
      );
    });
  }

  /**
   * Asks the server to take this socket out of a room.
   *
   * @param room The room.
   * @returns A promise that resolves when the server confirms.
   * @throws {SocketClosedError} When the socket is not connected.
   * @throws {TypeError} For the socket's own room, which cannot be left.
   */
  leave(room: string): Promise<void> {
    if (this.#state !== "open") return Promise.reject(new SocketClosedError(this.namespace));
    if (room === this.#id) {
      return Promise.reject(new TypeError("A socket cannot leave its own room"));
    }
    return new Promise<void>((resolve, reject) => {
      const timeout = this.#link.options.ackTimeout;
      const timer = this.#link.timers.schedule(timeout, () => {
        if (this.#leaves.get(room)?.timer !== timer) return;
        this.#leaves.delete(room);
        reject(new JoinError("timeout", room, `No answer to leaving ${room} within ${timeout} ms`));
      });
      this.#leaves.get(room)?.resolve();
      this.#leaves.set(room, { resolve, reject, timer });
      this.#send(encodeFrame(RoomLeave, { room }, { channel: this.channel }), false);
    });
  }

  /**
   * Leaves the namespace (`client disconnect`). Leaving `/` closes the whole connection.
   */
  disconnect(): void {
    if (this.#state === "closed") return;
    this.#link.leave(this);
  }

  /** @ignore */
  opened(info: HandshakeInfo): void {
    if (this.#state !== "connecting") return;
    this.#state = "open";
    this.#id = info.socketId;
    this.#settleReady();
    this.#lifecycle.emit("connect", info);
  }

  /** @ignore */
  refused(error: ConnectError): void {
    if (this.#state !== "connecting") return;
    this.#state = "closed";
    this.#settleReady(error);
    this.#lifecycle.emit("connect_error", error);
  }

  /** @ignore */
  teardown(reason: DisconnectReason, connectError?: ConnectError): void {
    if (this.#state === "closed") return;
    if (this.#state === "connecting") {
      return this.refused(
        connectError ?? new ConnectError(
          reason === "client disconnect" ? "closed" : "transport",
          this.namespace,
          `Disconnected: ${reason}`,
        ),
      );
    }
    this.#state = "closed";
    const closed = new SocketClosedError(this.namespace);
    this.#acks.failAll(closed);
    for (const pending of [...this.#joins.values(), ...this.#leaves.values()]) {
      this.#link.timers.cancel(pending.timer);
      pending.reject(closed);
    }
    this.#joins.clear();
    this.#leaves.clear();
    this.#lifecycle.emit("disconnect", reason);
  }

  /** @ignore */
  receiveEvent(
    event: string,
    payloadType: number,
    payload: Uint8Array | undefined,
    ackId: number | undefined,
    room?: string,
    sender?: string,
  ): void {
    const data = decodePayload(payloadType, payload, this.#link.options.schemas);
    const info: EventInfo = {
      wantsAck: ackId !== undefined,
      ...(room === undefined ? {} : { room }),
      ...(sender === undefined ? {} : { sender }),
    };
    if (!this.#events.has(event)) {
      if (ackId !== undefined) this.#replyError(ackId, `No handler for "${event}"`);
      return;
    }
    const result = this.#events.emit(event, data, info);
    if (ackId === undefined) return;
    if (result instanceof Promise) {
      result.then(
        (value) => this.#reply(ackId, value),
        (error) => this.#replyError(ackId, error instanceof Error ? error.message : String(error)),
      );
    } else this.#reply(ackId, result);
  }

  /** @ignore */
  receiveAck(ackId: number, payloadType: number, payload?: Uint8Array, error?: string): void {
    if (error !== undefined) this.#acks.fail(ackId, error);
    else {
      const data = decodePayload(payloadType, payload, this.#link.options.schemas);
      this.#acks.settle(ackId, { ok: true, value: data });
    }
  }

  /** @ignore */
  receiveMessage(schema: Schema<object>, value: object): void {
    this.#messages.emit(`${schema.code}.${schema.version}`, value);
  }

  /** @ignore */
  receiveRaw(data: Uint8Array): void {
    this.#lifecycle.emit("raw", data);
  }

  /** @ignore */
  roomJoined(room: string): void {
    this.#rooms.add(room);
    const pending = this.#joins.get(room);
    if (pending !== undefined) {
      this.#joins.delete(room);
      this.#link.timers.cancel(pending.timer);
      pending.resolve();
    }
    this.#lifecycle.emit("room_joined", room);
  }

  /** @ignore */
  roomLeft(room: string): void {
    this.#rooms.delete(room);
    const pending = this.#leaves.get(room);
    if (pending !== undefined) {
      this.#leaves.delete(room);
      this.#link.timers.cancel(pending.timer);
      pending.resolve();
    }
    this.#lifecycle.emit("room_left", room);
  }

  /** @ignore */
  joinRefused(room: string, code: number, message: string | undefined): void {
    const pending = this.#joins.get(room);
    if (pending === undefined) return;
    this.#joins.delete(room);
    this.#link.timers.cancel(pending.timer);
    pending.reject(
      new JoinError(joinErrorCode(code), room, message ?? `Joining ${room} was refused`),
    );
  }

  /** @ignore */
  member(event: "member_entered" | "member_left", member: RoomMember): void {
    this.#lifecycle.emit(event, member);
  }

  #encodeEvent(event: string, data: Payload, ackId: number | undefined): Uint8Array {
    return encodeFrame(Event, {
      event: this.#link.eventId(event),
      ...encodePayload(data),
      ...(ackId === undefined ? {} : { ackId }),
    }, { channel: this.channel, maxFrameSize: this.#link.serverMaxFrameSize() });
  }

  #send(frame: Uint8Array, volatile: boolean, event?: string): ClientEmitStatus {
    const status = this.#link.send(frame, volatile, event);
    return status === "queued" ? "sent" : status;
  }

  #reply(ackId: number, value: unknown): void {
    if (this.#state !== "open") return;
    let frame: Uint8Array;
    try {
      frame = encodeFrame(Ack, { ackId, ...encodePayload(value as Payload) }, {
        channel: this.channel,
        maxFrameSize: this.#link.serverMaxFrameSize(),
      });
    } catch (error) {
      this.#reportError(error);
      return this.#replyError(ackId, "The reply could not be encoded");
    }
    this.#send(frame, false);
  }

  #replyError(ackId: number, message: string): void {
    if (this.#state !== "open") return;
    const text = message.length > 1000 ? message.slice(0, 1000) : message;
    this.#send(
      encodeFrame(Ack, { ackId, payloadType: PayloadType.None, error: text }, {
        channel: this.channel,
      }),
      false,
    );
  }

  #reportError(error: unknown): void {
    if (this.#lifecycle.has("error")) this.#lifecycle.emit("error", error);
    else this.#link.reportError(error);
  }
}

function joinErrorCode(code: number): JoinErrorCode {
  switch (code) {
    case ErrorCode.RoomFull:
      return "full";
    case ErrorCode.WrongKey:
      return "wrong_key";
    case ErrorCode.RoomNotFound:
      return "not_found";
    case ErrorCode.RoomExists:
      return "exists";
    default:
      return "refused";
  }
}
