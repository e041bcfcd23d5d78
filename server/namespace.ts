/**
 * A namespace on the server: its sockets, its rooms (through its adapter), its broadcasts and
 * its events.
 *
 * @module
 */

import { type Schema, SchemaRegistry } from "../protocol/mod.ts";
import type {
  DefaultEvents,
  EmitArgs,
  EventNames,
  EventReply,
  EventsMap,
} from "../session/event_map.ts";
import { JoinError } from "../session/errors.ts";
import { Listeners } from "../session/listeners.ts";
import type { DeliveryStatus } from "../session/delivery.ts";
import type {
  Adapter,
  AdapterHost,
  BroadcastPacket,
  BroadcastResult,
  BroadcastTarget,
} from "./adapter.ts";
import {
  type AckResult,
  type BroadcastAckOptions,
  BroadcastOperator,
  type BroadcastOptions,
} from "./broadcast_operator.ts";
import type { Middleware } from "./middleware.ts";
import type { Room, RoomOptions } from "./room.ts";
import {
  type ResolvedRoomPolicy,
  resolveRoomPolicy,
  roomOptionsProblem,
  type RoomPolicyOptions,
} from "./room_policy.ts";
import { type RoomEvents, Rooms } from "./rooms.ts";
import type { RoomFilter, RoomMetadata, RoomPage } from "../session/room_listing.ts";
import type { RoomCreateValue, RoomJoinValue } from "./frame_values.ts";
import type { ServerConnection } from "./server_connection.ts";
import type { AnyServerSocket, ServerCore } from "./server_core.ts";
import type { ServerSocket } from "./server_socket.ts";

/** Options of `server.of(name, options)`. */
export interface NamespaceOptions {
  /**
   * The application's schemas in this namespace, when it has a set of its own (a benchmark or a
   * game mode with its own messages). Clients connect it with the same set
   * (`client.of(name, { schemas })`); other namespaces are not affected.
   *
   * @default {the server's `schemas` option}
   */
  schemas?: SchemaRegistry | Iterable<Schema<object>>;
  /**
   * The namespace's rooms policy: how rooms are created and the limits on clients' requests,
   * each unset field taken from the server's `rooms` option.
   *
   * @default {the server's `rooms` option}
   */
  rooms?: RoomPolicyOptions;
}

/** What a client asked for when it asked to join a room. */
export type JoinRequest = Readonly<RoomJoinValue>;

/**
 * Who a joining socket is in the room, as a join hook decides: its player name (say, the name it
 * authenticated with, rather than the one the client claims) and its player id (a free one).
 */
export interface JoinVerdict {
  /** The player name; the client's `player` when absent. */
  player?: string;
  /** The player id: an integer from 1 no other member has; the lowest free one when absent. */
  playerId?: number;
}

/**
 * Decides a client's request to join a room: `true` (or nothing) lets it in, a
 * {@linkcode JoinVerdict} lets it in as that player; `false` or a message refuses it, and the
 * client's `join` rejects with a `JoinError` (`refused`). It runs after the room's own checks
 * (capacity, key), which run again once it has decided.
 */
export type JoinHook = (
  // deno-lint-ignore no-explicit-any
  socket: ServerSocket<any, any, any>,
  room: string,
  request: JoinRequest,
) =>
  | boolean
  | string
  | void
  | JoinVerdict
  | Promise<boolean | string | void | JoinVerdict>;

/** What a client asked for when it asked to create a room, its metadata decoded. */
export type CreateRequest = Readonly<
  Omit<RoomCreateValue, "metadata"> & { metadata?: RoomMetadata }
>;

/**
 * Decides a client's request to create a room: `true` (or nothing) creates it; `false` or a
 * message refuses it (`JoinError` `refused`). It runs after the request's own checks, which run
 * again once it has decided.
 */
export type CreateHook = (
  // deno-lint-ignore no-explicit-any
  socket: ServerSocket<any, any, any>,
  room: string,
  request: CreateRequest,
) => boolean | string | void | Promise<boolean | string | void>;

/**
 * The events of a {@linkcode Namespace}. The room events carry the {@linkcode Room}, whose state
 * (members, capacity, metadata, `data`) is already what the event says; a socket's own room is not
 * a `Room` and has no events.
 */
export interface NamespaceEvents<Socket> extends RoomEvents {
  /** A socket connected (after its handshake was sent). */
  connection: (socket: Socket) => void;
  /** Same as `connection`. */
  connect: (socket: Socket) => void;
  /** A handler of one of the namespace's sockets failed, and the socket has no `error` listener. */
  error: (error: unknown, socket: Socket) => void;
}

const EVENTS = new Set([
  "connection",
  "connect",
  "room_created",
  "room_joined",
  "room_left",
  "room_full",
  "room_deleted",
  "error",
]);

/**
 * A namespace: a set of sockets, one per connection that connected it, with rooms among them.
 *
 * @typeParam Listen Events clients send.
 * @typeParam Emit Events the server sends.
 * @typeParam Data The type of each socket's `data`.
 */
export class Namespace<
  Listen extends EventsMap = DefaultEvents,
  Emit extends EventsMap = DefaultEvents,
  Data = Record<string, unknown>,
> implements AdapterHost {
  /** The namespace's name, such as `/home`. */
  readonly name: string;
  /** Room membership and fan-out. */
  readonly adapter: Adapter;
  /** Whether it was made on demand by a dynamic namespace pattern (removed when empty). */
  readonly dynamic: boolean;
  /**
   * The application's schemas in this namespace: message frames and message payloads on its
   * channel resolve against them, and a client's must have the same fingerprint.
   */
  readonly schemas: SchemaRegistry;
  /** @ignore */
  readonly core: ServerCore;
  #sockets = new Map<string, ServerSocket<Listen, Emit, Data>>();
  #listeners: Listeners;
  #joinHook: JoinHook | undefined;
  #createHook: CreateHook | undefined;
  #rooms: Rooms;
  #middleware: Middleware<Data>[] = [];
  #collect: ((socket: AnyServerSocket, status: DeliveryStatus) => void) | undefined;

  /**
   * Made by `server.of()`.
   *
   * @ignore
   */
  constructor(name: string, core: ServerCore, options: NamespaceOptions = {}, dynamic = false) {
    this.name = name;
    this.core = core;
    this.dynamic = dynamic;
    const schemas = options.schemas;
    this.schemas = schemas === undefined
      ? core.options.schemas
      : schemas instanceof SchemaRegistry
      ? schemas
      : new SchemaRegistry(schemas);
    this.#listeners = new Listeners((error) => core.reportError(error));
    this.adapter = core.options.adapter(this);
    const policy = resolveRoomPolicy(options.rooms, core.options.rooms, `of("${name}").rooms`);
    const listeners = this.#listeners;
    this.#rooms = new Rooms(
      {
        adapter: this.adapter,
        sendRoomEvents: core.options.sendRoomEvents,
        socket: (id) => this.#sockets.get(id),
        deliver: (id, packet) => this.deliver(id, packet),
        emit: (event, ...args) => listeners.emit(event, ...args),
      },
      policy,
      core.timers,
    );
  }

  /** The namespace's sockets, by id. */
  get sockets(): ReadonlyMap<string, ServerSocket<Listen, Emit, Data>> {
    return this.#sockets;
  }

  /**
   * Who is in which room: every room's members' ids, sockets' own rooms included (the adapter's
   * view; {@linkcode Namespace.getRoom} gives a room's options and players).
   */
  get rooms(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.adapter.rooms;
  }

  /** The namespace's rooms policy, defaults filled in. */
  get roomPolicy(): ResolvedRoomPolicy {
    return this.#rooms.registry.policy;
  }

  /**
   * A room, with its options, members and `data`.
   *
   * @param name The room.
   * @returns The room, or `undefined` when there is none (sockets' own rooms are not rooms).
   */
  getRoom(name: string): Room | undefined {
    return this.#rooms.registry.rooms.get(name);
  }

  /**
   * Creates a room. The server's own rooms are not held to the limits on clients' requests
   * (capacity, grace period, count), only to the metadata size; one created empty with no grace
   * period (`emptyTimeout: 0`, the default) waits for its first member, and is deleted when its
   * last member leaves.
   *
   * @param name The room's name (not a socket id).
   * @param options Capacity, key, metadata, visibility, grace period.
   * @returns The room.
   * @throws {JoinError} (`exists`) When a room (or socket) of that name exists.
   * @throws {RangeError} When an option is out of range.
   *
   * @example
   * ```ts
   * import { GameSocketServer } from "@game-socket/game-socket/server";
   *
   * const server = new GameSocketServer({ hostname: "127.0.0.1", port: 0 });
   * const lobby = server.of("/lobby", { rooms: { creation: "explicit" } });
   * const table = lobby.createRoom("table-1", { capacity: 4, metadata: { game: "poker" } });
   * table.data.pot = 0;
   * ```
   */
  createRoom(name: string, options: RoomOptions = {}): Room {
    if (name.length === 0) throw new RangeError("A room name cannot be empty");
    const problem = roomOptionsProblem(options, this.#rooms.registry.policy, false);
    if (problem !== undefined) throw new RangeError(problem);
    if (this.#rooms.registry.rooms.has(name) || this.#sockets.has(name)) {
      throw new JoinError("exists", name, `A room named ${name} exists already`);
    }
    return this.#rooms.create(name, options);
  }

  /**
   * Deletes a room: each member leaves it (and is told), then `room_deleted`.
   *
   * @param name The room.
   * @returns Whether it existed.
   */
  deleteRoom(name: string): boolean {
    return this.#rooms.deleteRoom(name);
  }

  /**
   * A page of the rooms a client would see listed: hidden rooms never appear.
   *
   * @param filter Conditions (`prefix`, `available`, `metadata`) and paging (`after`, `limit`).
   * @returns The page, in name order, with `next` when there may be more.
   * @throws {RangeError} For a `limit` out of 1..100.
   */
  listRooms(filter?: RoomFilter): RoomPage {
    return this.#rooms.registry.list(filter);
  }

  /** The namespace's middleware, in the order they run. */
  get middleware(): readonly Middleware<Data>[] {
    return this.#middleware;
  }

  /**
   * Adds a middleware: it decides each connect to this namespace before any socket exists, from
   * the client's auth payload (`client.of(name, { auth })`) and address, and may fill in the
   * socket's `data`. A refusal fails the client's connect with `ConnectError` `unauthorized` and
   * the reason; for `/` it closes the connection, for another namespace only that connect fails.
   *
   * @param middleware The middleware; several run in the order they were added.
   * @returns This namespace.
   *
   * @example
   * ```ts
   * import { GameSocketServer } from "@game-socket/game-socket/server";
   *
   * const server = new GameSocketServer({ hostname: "127.0.0.1", port: 0 });
   * server.of("/admin").use(({ handshake, data }) => {
   *   const auth = handshake.auth as { token?: string } | undefined;
   *   if (auth?.token !== "let-me-in") return "A valid token is needed";
   *   data.role = "admin";
   *   return true;
   * });
   * ```
   */
  use(middleware: Middleware<Data>): this {
    this.#middleware.push(middleware);
    return this;
  }

  /** The hook that decides clients' join requests, if one is set. */
  get joinHook(): JoinHook | undefined {
    return this.#joinHook;
  }

  /** The hook that decides clients' create requests, if one is set. */
  get createHook(): CreateHook | undefined {
    return this.#createHook;
  }

  /**
   * Adds a listener.
   *
   * @param event The event.
   * @param listener The listener.
   * @returns This namespace.
   * @throws {TypeError} For an event namespaces do not have.
   */
  on<E extends keyof NamespaceEvents<ServerSocket<Listen, Emit, Data>>>(
    event: E,
    listener: NamespaceEvents<ServerSocket<Listen, Emit, Data>>[E],
  ): this {
    this.#listeners.on(checkEvent(event), listener);
    return this;
  }

  /**
   * Adds a listener that runs once.
   *
   * @param event The event.
   * @param listener The listener.
   * @returns This namespace.
   */
  once<E extends keyof NamespaceEvents<ServerSocket<Listen, Emit, Data>>>(
    event: E,
    listener: NamespaceEvents<ServerSocket<Listen, Emit, Data>>[E],
  ): this {
    this.#listeners.once(checkEvent(event), listener);
    return this;
  }

  /**
   * Removes a listener, or all of an event's.
   *
   * @param event The event.
   * @param listener The listener; every one of the event when absent.
   * @returns This namespace.
   */
  off<E extends keyof NamespaceEvents<ServerSocket<Listen, Emit, Data>>>(
    event: E,
    listener?: NamespaceEvents<ServerSocket<Listen, Emit, Data>>[E],
  ): this {
    this.#listeners.off(event, listener);
    return this;
  }

  /**
   * Sets the hook that decides clients' requests to join rooms (one hook; a new one replaces
   * it). A client can never join another socket's own room, whatever the hook says.
   *
   * @param hook The hook, or `undefined` to let every join in.
   * @returns This namespace.
   */
  onJoinRequest(hook: JoinHook | undefined): this {
    this.#joinHook = hook;
    return this;
  }

  /**
   * Sets the hook that decides clients' requests to create rooms (one hook; a new one replaces
   * it). Without one, clients may create rooms within the namespace's `rooms` limits.
   *
   * @param hook The hook, or `undefined` to let every valid request through.
   * @returns This namespace.
   */
  onCreateRequest(hook: CreateHook | undefined): this {
    this.#createHook = hook;
    return this;
  }

  /**
   * Targets the members of rooms.
   *
   * @param rooms A room or several.
   * @returns A new broadcast target.
   */
  to(rooms: string | readonly string[]): BroadcastOperator<Emit> {
    return new BroadcastOperator<Emit>(this, roomSet(rooms), NO_ROOMS);
  }

  /**
   * Same as {@linkcode Namespace.to}.
   *
   * @param rooms A room or several.
   * @returns A new broadcast target.
   */
  in(rooms: string | readonly string[]): BroadcastOperator<Emit> {
    return this.to(rooms);
  }

  /**
   * Targets every socket but the members of rooms.
   *
   * @param rooms A room or several.
   * @returns A new broadcast target.
   */
  except(rooms: string | readonly string[]): BroadcastOperator<Emit> {
    return new BroadcastOperator<Emit>(this, NO_ROOMS, roomSet(rooms));
  }

  /**
   * Sends an event to every socket of the namespace, encoded once.
   *
   * @param event The event's name.
   * @param args The payload, then options.
   * @returns How many sockets it was queued for, dropped by, or disconnected.
   */
  emit<E extends EventNames<Emit>>(
    event: E,
    ...args: EmitArgs<Emit[E], BroadcastOptions>
  ): BroadcastResult {
    return new BroadcastOperator<Emit>(this, NO_ROOMS, NO_ROOMS).emit(event, ...args);
  }

  /**
   * Sends an event to every socket and collects each one's acknowledgement.
   *
   * @param event The event's name.
   * @param args The payload, then options (`timeout`).
   * @returns One result per socket.
   */
  emitWithAck<E extends EventNames<Emit>>(
    event: E,
    ...args: EmitArgs<Emit[E], BroadcastAckOptions>
  ): Promise<AckResult<EventReply<Emit[E]>>[]> {
    return new BroadcastOperator<Emit>(this, NO_ROOMS, NO_ROOMS).emitWithAck(event, ...args);
  }

  /**
   * Sends an application message to every socket as a message frame, encoded once.
   *
   * @param schema The message's schema.
   * @param value The message.
   * @param options `volatile`.
   * @returns How many sockets it was queued for, dropped by, or disconnected.
   */
  send<V extends object>(schema: Schema<V>, value: V, options?: BroadcastOptions): BroadcastResult {
    return new BroadcastOperator<Emit>(this, NO_ROOMS, NO_ROOMS).send(schema, value, options);
  }

  /**
   * The sockets in a room.
   *
   * @param room The room.
   * @returns Its members (none when it does not exist).
   */
  socketsIn(room: string): ServerSocket<Listen, Emit, Data>[] {
    const sockets: ServerSocket<Listen, Emit, Data>[] = [];
    for (const id of this.adapter.members(room)) {
      const socket = this.#sockets.get(id);
      if (socket !== undefined) sockets.push(socket);
    }
    return sockets;
  }

  /**
   * Disconnects every socket of the namespace (`server disconnect`).
   *
   * @param close Whether to close their whole connections.
   */
  disconnectSockets(close = false): void {
    for (const socket of [...this.#sockets.values()]) socket.disconnect(close);
  }

  /** @ignore */
  add(socket: ServerSocket<Listen, Emit, Data>): void {
    this.#sockets.set(socket.id, socket);
    this.adapter.addAll(socket.id, [socket.id]);
    this.#listeners.emit("connection", socket);
    this.#listeners.emit("connect", socket);
  }

  /** @ignore */
  remove(socket: ServerSocket<Listen, Emit, Data>): void {
    this.#rooms.leaveAll(socket);
    this.#rooms.registry.socketGone(socket);
    this.adapter.delAll(socket.id);
    this.#sockets.delete(socket.id);
    if (this.dynamic && this.#sockets.size === 0) {
      this.#rooms.registry.clear();
      this.core.namespaceEmptied(this);
    }
  }

  /**
   * The rooms in motion: joins, moves, leaves.
   *
   * @ignore
   */
  get roomMoves(): Rooms {
    return this.#rooms;
  }

  /** @ignore */
  broadcastWithAck(
    packet: BroadcastPacket,
    target: BroadcastTarget,
    collect: (socket: AnyServerSocket, status: DeliveryStatus) => void,
  ): void {
    this.#collect = collect;
    try {
      this.adapter.broadcast(packet, target);
    } finally {
      this.#collect = undefined;
    }
  }

  /** @ignore */
  reportError(error: unknown, socket: AnyServerSocket): void {
    if (this.#listeners.has("error")) this.#listeners.emit("error", error, socket);
    else this.core.reportError(error);
  }

  /** @ignore */
  socketIds(): Iterable<string> {
    return this.#sockets.keys();
  }

  /** @ignore */
  deliver(socketId: string, packet: BroadcastPacket): DeliveryStatus {
    const socket = this.#sockets.get(socketId);
    const status = socket === undefined ? "closed" : connectionOf(socket).deliver(socket, packet);
    if (packet.ackId !== undefined && socket !== undefined) this.#collect?.(socket, status);
    return status;
  }
}

/** No rooms: shared, never changed (operators copy before adding). */
const NO_ROOMS: ReadonlySet<string> = new Set();

function roomSet(rooms: string | readonly string[]): ReadonlySet<string> {
  return typeof rooms === "string" ? new Set([rooms]) : new Set(rooms);
}

function checkEvent<E extends string>(event: E): E {
  if (!EVENTS.has(event)) throw new TypeError(`Namespaces have no "${event}" event`);
  return event;
}

function connectionOf(socket: AnyServerSocket): ServerConnection {
  return socket.connection;
}
