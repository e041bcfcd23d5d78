/**
 * A namespace socket on the client: one per namespace connected on the client's connection.
 *
 * @module
 */

import { encodeFrame, RoomEvent, type SchemaRegistry } from "../protocol/mod.ts";
import { RELIABLE } from "../session/delivery.ts";
import type { DisconnectReason } from "../session/disconnect_reason.ts";
import { ConnectError, SocketClosedError } from "../session/errors.ts";
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
import type { RoomFilter, RoomInfo, RoomMember, RoomPage } from "../session/room_listing.ts";
import type { ResolvedClientOptions } from "./client_options.ts";
import {
  ClientRooms,
  type CreateRoomOptions,
  type JoinedRoom,
  type JoinOptions,
  type MovedMember,
  type RejoinOptions,
} from "./client_rooms.ts";

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
  /**
   * The socket is now in a room (it asked, or the server moved it): `joined` has the room's
   * members and metadata and this socket's player id. After a move, `room_left` came just before.
   */
  room_joined: (room: string, joined: JoinedRoom) => void;
  /** The socket is no longer in a room. */
  room_left: (room: string) => void;
  /** Another socket entered one of this socket's rooms. */
  member_entered: (member: RoomMember) => void;
  /** Another socket left one of this socket's rooms. */
  member_left: (member: RoomMember) => void;
  /**
   * Another socket moved in one step between two rooms this socket is in (members of only one of
   * them get `member_left` or `member_entered`).
   */
  member_moved: (member: MovedMember) => void;
  /** A listed room was created or changed (after `watchRooms()`). */
  room_listed: (room: RoomInfo) => void;
  /**
   * A listed room was deleted or hidden (after `watchRooms()`). A room created and deleted
   * within one listing interval may be named without ever having been listed: ignore names you
   * do not know.
   */
  room_unlisted: (room: string) => void;
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
  "member_moved",
  "room_listed",
  "room_unlisted",
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
  #rooms: ClientRooms;
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
    this.#rooms = new ClientRooms({
      namespace,
      channel,
      timers: link.timers,
      ackTimeout: link.options.ackTimeout,
      send: (frame) => this.transmit(frame, RELIABLE) === "sent",
      emit: (event, ...args) => this.emitLifecycle(event as keyof ClientSocketEvents, ...args),
    });
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
    return this.#rooms.rooms;
  }

  /** Whether the socket watches the room listing (`watchRooms`). */
  get watchingRooms(): boolean {
    return this.#rooms.watching;
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
   * Asks the server to put this socket in a room, leaving `options.leave` in the same step.
   *
   * @param room The room.
   * @param options A room to leave in the same step, a key, a player name, a timeout.
   * @returns The room as it is now (members, metadata, capacity) and this socket's player id.
   * @throws {JoinError} When the server refuses (`code` says why; nothing changed), or does not
   *   answer in time (`timeout`).
   * @throws {SocketClosedError} When the socket is not connected.
   *
   * @example
   * ```ts ignore
   * const table = await lobby.join("table-1", { key: "s3cret", leave: "hall", player: "ann" });
   * console.log(table.playerId, table.members.map((member) => member.player));
   * ```
   */
  join(room: string, options: JoinOptions = {}): Promise<JoinedRoom> {
    if (this.#state !== "open") return Promise.reject(this.#notOpen());
    return this.#rooms.join(room, options);
  }

  /**
   * Asks the server to create a room and (unless `join: false`) put this socket in it.
   *
   * @param room The room's name.
   * @param options Capacity, key, metadata, visibility, grace period; whether to join, as whom,
   *   leaving which room.
   * @returns What joining gave, or `undefined` when created without joining.
   * @throws {JoinError} When the server refuses: `exists`, `invalid` (an option out of the
   *   server's range), `limit_exceeded` (`rooms_created`, `namespace_rooms`, `rooms`), `refused`.
   * @throws {RangeError} (rejects) For a capacity below 1 or a grace period that is not a whole
   *   number of ms.
   * @throws {TypeError} (rejects) For metadata that is not an object.
   * @throws {SocketClosedError} When the socket is not connected.
   */
  createRoom(room: string, options: CreateRoomOptions = {}): Promise<JoinedRoom | undefined> {
    if (this.#state !== "open") return Promise.reject(this.#notOpen());
    return attempt(() => this.#rooms.create(room, options));
  }

  /**
   * Asks the server for a page of the namespace's listed rooms (hidden rooms never appear).
   *
   * @param filter Conditions (`prefix`, `available`, `metadata`) and paging (`after`, `limit`).
   * @param timeout Milliseconds to wait for the answer; the client's `ackTimeout` by default.
   * @returns The page, in name order; pass its `next` as `after` for the next one.
   * @throws {JoinError} (`timeout`) When the server does not answer in time.
   * @throws {RangeError} (rejects) For a `limit` out of 1..100.
   * @throws {SocketClosedError} When the socket is not connected.
   */
  listRooms(filter: RoomFilter = {}, timeout?: number): Promise<RoomPage> {
    if (this.#state !== "open") return Promise.reject(this.#notOpen());
    return attempt(() => this.#rooms.list(filter, timeout));
  }

  /**
   * Starts (or stops) hearing of changes to the listing: `room_listed` when a listed room is
   * created or changes (members, capacity, metadata, key), `room_unlisted` when it is deleted or
   * hidden. Changes are gathered over the server's `rooms.listingInterval`. Watch first, then
   * `listRooms`: a change that crosses the page arrives after it.
   *
   * @param watch Whether to watch.
   */
  watchRooms(watch = true): void {
    if (this.#state === "closed" || this.#state === "connecting") return;
    this.#rooms.watch(watch);
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
    if (this.#state !== "open") return Promise.reject(this.#notOpen());
    if (room === this.#id) {
      return Promise.reject(new TypeError("A socket cannot leave its own room"));
    }
    return this.#rooms.leave(room);
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
   * rooms it was in are returned, with the key and player name each was joined with, for joining
   * again).
   *
   * @ignore
   */
  reopened(info: HandshakeInfo): [string, RejoinOptions][] {
    if (this.#state !== "away") return [];
    const rooms = info.recovered ? [] : this.#rooms.forget();
    // A fresh session watches nothing: ask again.
    if (!info.recovered && this.#rooms.watching) queueMicrotask(() => this.#rooms.watch(true));
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
    this.#rooms.fail(closed);
    if (!told) this.emitLifecycle("disconnect", reason);
  }

  /** @ignore */
  receiveRaw(data: Uint8Array): void {
    this.emitLifecycle("raw", data);
  }

  /** Why a room request cannot go now: the socket is still connecting, away, or gone. */
  #notOpen(): SocketClosedError {
    const why = this.#state === "connecting"
      ? "is not connected yet: await its ready first"
      : this.#state === "away"
      ? "is reconnecting"
      : "is disconnected";
    return new SocketClosedError(this.namespace, `The socket of ${this.namespace} ${why}`);
  }

  /** @ignore */
  get roomRequests(): ClientRooms {
    return this.#rooms;
  }

  /** @ignore */
  member(
    event: "member_entered" | "member_left" | "member_moved",
    member: RoomMember | MovedMember,
  ): void {
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

/** A promise of what `request` returns, rejected with what it throws. */
function attempt<T>(request: () => Promise<T>): Promise<T> {
  try {
    return request();
  } catch (error) {
    return Promise.reject(error);
  }
}
