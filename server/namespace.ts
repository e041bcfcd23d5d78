/**
 * A namespace on the server: its sockets, its rooms (through its adapter), its broadcasts and
 * its events.
 *
 * @module
 */

import {
  encodeFrame,
  MemberEntered,
  MemberLeft,
  RoomJoined,
  RoomLeft,
  type Schema,
  SchemaRegistry,
} from "../protocol/mod.ts";
import type {
  DefaultEvents,
  EmitArgs,
  EventNames,
  EventReply,
  EventsMap,
} from "../session/event_map.ts";
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
import type { RoomJoinValue, ServerConnection } from "./server_connection.ts";
import type { AnyServerSocket, ServerCore } from "./server_core.ts";
import type { ServerSocket } from "./server_socket.ts";
import { SharedFrame } from "./shared_frame.ts";

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
}

/** What a client asked for when it asked to join a room. */
export type JoinRequest = Readonly<RoomJoinValue>;

/**
 * Decides a client's request to join a room: `true` (or nothing) lets it in; `false` or a
 * message refuses it, and the client's `join` rejects with a `JoinError` (`refused`).
 */
export type JoinHook = (
  // deno-lint-ignore no-explicit-any
  socket: ServerSocket<any, any, any>,
  room: string,
  request: JoinRequest,
) => boolean | string | void | Promise<boolean | string | void>;

/** The events of a {@linkcode Namespace}. */
export interface NamespaceEvents<Socket> {
  /** A socket connected (after its handshake was sent). */
  connection: (socket: Socket) => void;
  /** Same as `connection`. */
  connect: (socket: Socket) => void;
  /** A room came into being: its first member joined. Every socket's own room included. */
  room_created: (room: string) => void;
  /** A socket joined a room. */
  room_joined: (room: string, socketId: string) => void;
  /** A socket left a room. */
  room_left: (room: string, socketId: string) => void;
  /** A room ceased to be: its last member left. */
  room_deleted: (room: string) => void;
  /** A handler of one of the namespace's sockets failed, and the socket has no `error` listener. */
  error: (error: unknown, socket: Socket) => void;
}

const EVENTS = new Set([
  "connection",
  "connect",
  "room_created",
  "room_joined",
  "room_left",
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
  }

  /** The namespace's sockets, by id. */
  get sockets(): ReadonlyMap<string, ServerSocket<Listen, Emit, Data>> {
    return this.#sockets;
  }

  /** Every room and its members' ids, own rooms included. */
  get rooms(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.adapter.rooms;
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
    this.adapter.delAll(socket.id);
    this.#sockets.delete(socket.id);
    if (this.dynamic && this.#sockets.size === 0) this.core.namespaceEmptied(this);
  }

  /** @ignore */
  joinRooms(
    socket: ServerSocket<Listen, Emit, Data>,
    rooms: readonly string[],
    tell: boolean,
  ): void {
    const mine = this.adapter.socketRooms(socket.id);
    const fresh = rooms.filter((room) => !mine.has(room));
    this.adapter.addAll(socket.id, fresh);
    if (!tell) return;
    for (const room of fresh) {
      socket.deliverControl(encodeFrame(RoomJoined, { room }, { channel: socket.channel }));
    }
  }

  /** @ignore */
  leaveRoom(socket: ServerSocket<Listen, Emit, Data>, room: string, tell: boolean): void {
    if (!this.adapter.socketRooms(socket.id).has(room)) return;
    this.adapter.del(socket.id, room);
    if (tell) socket.deliverControl(encodeFrame(RoomLeft, { room }, { channel: socket.channel }));
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

  /** @ignore */
  roomCreated(room: string): void {
    this.#listeners.emit("room_created", room);
  }

  /** @ignore */
  roomJoined(room: string, socketId: string): void {
    this.#listeners.emit("room_joined", room, socketId);
    if (room !== socketId && this.core.options.sendRoomEvents && !this.#sockets.has(room)) {
      this.#tellMembers(MemberEntered, room, socketId);
    }
  }

  /** @ignore */
  roomLeft(room: string, socketId: string): void {
    this.#listeners.emit("room_left", room, socketId);
    if (room !== socketId && this.core.options.sendRoomEvents && !this.#sockets.has(room)) {
      this.#tellMembers(MemberLeft, room, socketId);
    }
  }

  /** @ignore */
  roomDeleted(room: string): void {
    this.#listeners.emit("room_deleted", room);
  }

  #tellMembers(
    schema: typeof MemberEntered | typeof MemberLeft,
    room: string,
    socketId: string,
  ): void {
    const packet = new SharedFrame(
      (channel) => encodeFrame(schema, { room, socketId }, { channel }),
      { volatile: false, onEncode: () => {} },
    );
    this.adapter.broadcast(packet, { rooms: new Set([room]), except: new Set([socketId]) });
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
