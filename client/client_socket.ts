/**
 * A namespace socket on the client: one per namespace connected on the client's connection.
 *
 * @module
 */

import {
  encodeFrame,
  ErrorCode,
  RoomEvent,
  RoomJoin,
  RoomLeave,
  type SchemaRegistry,
} from "../protocol/mod.ts";
import { RELIABLE } from "../session/delivery.ts";
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
  type EventNames,
  type EventsMap,
} from "../session/event_map.ts";
import { encodePayload, type Payload } from "../session/payload.ts";
import {
  type EmitOptions,
  type EmitStatus,
  SocketBase,
  type SocketLink,
} from "../session/socket_base.ts";
import type { TimerEntry } from "../session/timer_queue.ts";
import type { ResolvedClientOptions } from "./client_options.ts";

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
  /**
   * After a reconnection: whether the session was resumed (same id, rooms, and everything sent
   * meanwhile) or is a fresh one. Absent on the first handshake.
   */
  readonly recovered?: boolean;
}

/** The lifecycle events of a {@linkcode ClientSocket}. */
export interface ClientSocketEvents {
  /**
   * The namespace's handshake arrived: first, and again after a reconnection (`info.recovered`
   * says whether the session was resumed, with the same id, or is a fresh one).
   */
  connect: (info: HandshakeInfo) => void;
  /** The server refused the namespace, or it could not be connected. */
  connect_error: (error: ConnectError) => void;
  /**
   * The socket left the namespace, or (with reconnection) the connection dropped: emits are then
   * kept until the client is back, and `connect` follows.
   */
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
export interface ClientLink extends SocketLink {
  readonly options: ResolvedClientOptions;
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
> extends SocketBase<Listen, Emit, ClientSocketEvents> {
  /** The namespace. */
  readonly namespace: string;
  /** Resolves with this socket when the handshake arrives; rejects with a `ConnectError`. */
  readonly ready: Promise<this>;
  #id: string | undefined;
  /** `away`: the connection dropped and the client is reconnecting. */
  #state: "connecting" | "open" | "away" | "closed" = "connecting";
  #link: ClientLink;
  #rooms = new Set<string>();
  #joins = new Map<string, PendingJoin>();
  #leaves = new Map<string, PendingJoin>();
  #settleReady!: (error?: ConnectError) => void;

  /**
   * Made by the client's `connect` and `of`.
   *
   * @ignore
   */
  constructor(
    namespace: string,
    channel: number,
    link: ClientLink,
    schemas: SchemaRegistry = link.options.schemas,
  ) {
    super(link, { namespace, channel, schemas }, LIFECYCLE);
    this.namespace = namespace;
    this.#link = link;
    this.ready = new Promise<this>((resolve, reject) => {
      this.#settleReady = (error) => error === undefined ? resolve(this) : reject(error);
    });
    this.ready.catch(() => {});
  }

  /** The socket's id, given by the server's handshake; `undefined` before it. */
  get id(): string | undefined {
    return this.#id;
  }

  /** Whether the handshake has arrived and the socket has not left (nor lost its connection). */
  get connected(): boolean {
    return this.#state === "open";
  }

  /** Emits are taken while connected and while reconnecting (kept until the client is back). */
  protected override get sendable(): boolean {
    return this.#state === "open" || this.#state === "away";
  }

  /** Whether the connection dropped and the client is reconnecting. */
  get reconnecting(): boolean {
    return this.#state === "away";
  }

  /** The rooms the server has said this socket is in (its own room not included). */
  get rooms(): ReadonlySet<string> {
    return this.#rooms;
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
      ...args: EmitArgs<Emit[E], EmitOptions>
    ): EmitStatus;
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
        }, { channel: this.channel, maxFrameSize: this.#link.maxFrameSize() });
        return this.transmit(frame, this.sendOptions(options), event);
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
      this.transmit(
        encodeFrame(RoomJoin, {
          room,
          ...(leave === undefined ? {} : { leave }),
          ...(key === undefined ? {} : { key }),
          ...(player === undefined ? {} : { player }),
        }, { channel: this.channel }),
        RELIABLE,
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
      this.transmit(encodeFrame(RoomLeave, { room }, { channel: this.channel }), RELIABLE);
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
    this.emitLifecycle("connect", info);
  }

  /**
   * The connection dropped; the client reconnects.
   *
   * @ignore
   */
  connectionLost(reason: DisconnectReason): void {
    if (this.#state !== "open") return;
    this.#state = "away";
    this.emitLifecycle("disconnect", reason);
  }

  /**
   * The session is back: resumed (same id, same rooms) or fresh (a new id, no rooms yet; the
   * rooms it was in are returned, for joining again).
   *
   * @ignore
   */
  reopened(info: HandshakeInfo): string[] {
    if (this.#state !== "away") return [];
    const rooms = info.recovered ? [] : [...this.#rooms];
    if (!info.recovered) this.#rooms.clear();
    this.#state = "open";
    this.#id = info.socketId;
    this.emitLifecycle("connect", info);
    return rooms;
  }

  /** @ignore */
  refused(error: ConnectError): void {
    if (this.#state !== "connecting") return;
    this.#state = "closed";
    this.#settleReady(error);
    this.emitLifecycle("connect_error", error);
  }

  /** @ignore */
  teardown(reason: DisconnectReason, connectError?: ConnectError): void {
    if (this.#state === "closed") return;
    // Reconnecting failed: the socket is gone, as its `disconnect` told when the connection dropped.
    const told = this.#state === "away";
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
    this.failAcks(closed);
    for (const pending of [...this.#joins.values(), ...this.#leaves.values()]) {
      this.#link.timers.cancel(pending.timer);
      pending.reject(closed);
    }
    this.#joins.clear();
    this.#leaves.clear();
    if (!told) this.emitLifecycle("disconnect", reason);
  }

  /** @ignore */
  receiveRaw(data: Uint8Array): void {
    this.emitLifecycle("raw", data);
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
    this.emitLifecycle("room_joined", room);
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
    this.emitLifecycle("room_left", room);
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
    this.emitLifecycle(event, member);
  }

  /**
   * Where an error goes that no `error` listener of the socket took: the client.
   *
   * @param error The error.
   */
  protected unhandledError(error: unknown): void {
    this.#link.reportError(error);
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
    case ErrorCode.LimitExceeded:
      return "limit_exceeded";
    default:
      return "refused";
  }
}
