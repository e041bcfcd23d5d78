/**
 * A client's socket in one namespace, on the server.
 *
 * @module
 */

import { encodeFrame, RoomLeft } from "../protocol/mod.ts";
import { RELIABLE, type SendOptions, type UdpStats } from "../session/delivery.ts";
import type { DisconnectReason } from "../session/disconnect_reason.ts";
import { SocketClosedError } from "../session/errors.ts";
import type { DefaultEvents, EventsMap } from "../session/event_map.ts";
import type { JsonValue } from "../session/payload.ts";
import { type EmitStatus, SocketBase } from "../session/socket_base.ts";
import type { TransportAddress } from "../transport/transport.ts";
import { BroadcastOperator } from "./broadcast_operator.ts";
import type { Namespace } from "./namespace.ts";
import type { RoomMember } from "../session/room_listing.ts";
import { requestCreate, requestJoin, requestList } from "./room_requests.ts";
import type { RoomCreateValue, RoomJoinValue, RoomListRequestValue } from "./frame_values.ts";
import type { ServerConnection } from "./server_connection.ts";
import type { ServerCore } from "./server_core.ts";

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

/** Options of the server's `socket.join`. */
export interface ServerJoinOptions {
  /** A room to leave in the same step (members of both see one `member_moved`). */
  leave?: string;
  /** The socket's player name in the rooms joined. */
  player?: string;
  /**
   * Its player id (an integer from 1 no member has); the lowest free one when absent. With
   * several rooms, the same id in each.
   */
  playerId?: number;
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
  /** Frames of the connection (all its namespaces) the inbound rate limit dropped. */
  readonly rateLimited: number;
}

/** The lifecycle events of a {@linkcode ServerSocket}. */
export interface ServerSocketEvents {
  /** The socket is leaving; its rooms are still readable. */
  disconnecting: (reason: DisconnectReason) => void;
  /**
   * The socket has left, or (with session recovery) its connection dropped: the session is then
   * kept for the recovery window, with its rooms, and emits to it are kept for the client.
   */
  disconnect: (reason: DisconnectReason) => void;
  /** The client came back within the recovery window: the socket is connected again. */
  recover: () => void;
  /**
   * The session ended without the client's return (the recovery window passed, or the server
   * closed): the socket has left for good.
   */
  expired: () => void;
  /** A handler of this socket failed. */
  error: (error: unknown) => void;
  /** A raw frame arrived on the socket's channel (with `allowRaw`). */
  raw: (data: Uint8Array) => void;
}

const LIFECYCLE: ReadonlySet<string> = new Set([
  "disconnecting",
  "disconnect",
  "recover",
  "expired",
  "error",
  "raw",
]);

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
> extends SocketBase<Listen, Emit, ServerSocketEvents> {
  /** The socket's id: 128 random bits, as 22 base64url characters. */
  readonly id: string;
  /** The namespace. */
  readonly nsp: Namespace<Listen, Emit, Data>;
  /** What the server knows of the connect. */
  readonly handshake: SocketHandshake;
  /** The application's state for this socket. */
  data: Data = {} as Data;

  #connection: ServerConnection;
  #core: ServerCore;
  #connected = true;
  /** Whether the connection dropped and the session waits for the client to come back. */
  #away = false;
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
    super(core.socketLink, { namespace: nsp.name, channel, schemas: nsp.schemas }, LIFECYCLE);
    this.nsp = nsp;
    this.#connection = connection;
    this.#core = core;
    this.id = id;
    this.handshake = handshake;
  }

  /** @ignore */
  get connection(): ServerConnection {
    return this.#connection;
  }

  /** Whether the socket is connected (false while its session waits for the client to return). */
  get connected(): boolean {
    return this.#connected && !this.#away;
  }

  /** Whether the connection dropped and the session waits, within the recovery window. */
  get recovering(): boolean {
    return this.#away;
  }

  /** Emits are taken while connected and while recovering (kept for the client's return). */
  protected override get sendable(): boolean {
    return this.#connected;
  }

  /** The rooms the socket is in, its own included. */
  get rooms(): ReadonlySet<string> {
    return new Set(this.nsp.adapter.socketRooms(this.id));
  }

  /**
   * The connection's UDP path (shared by its namespaces): whether the client's address is bound,
   * datagrams sent, received and dropped by reason, and round trips over UDP. `undefined` when
   * the server has no UDP channel.
   */
  get udp(): UdpStats | undefined {
    return this.#connection.udpStats;
  }

  /** Traffic and latency. */
  get stats(): SocketStats {
    const roundTrip = this.#connection.roundTrip;
    const acks = this.ackStats;
    return {
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      framesIn: this.#framesIn,
      framesOut: this.#framesOut,
      rtt: roundTrip.last,
      smoothedRtt: roundTrip.smoothed,
      pendingAcks: acks.pending,
      ignoredAcks: acks.ignored,
      dropped: this.#connection.transport.stats.dropped,
      rateLimited: this.#connection.rateLimited,
    };
  }

  /**
   * Adds the socket to rooms, creating those that do not exist (whatever the namespace's
   * `rooms.creation`). The server's own joins pass no check: not the capacity, the key, the join
   * hook nor `maxRoomsPerSocket`. The client is told (`room_joined`, with the room's members) and
   * the rooms' members too (`member_entered`, or `member_moved` with `leave`) when
   * `sendRoomEvents` is on.
   *
   * @param rooms A room or several.
   * @param options A room to leave in the same step, a player name and id.
   * @returns The socket's place in each room joined (rooms it was in already included), in order.
   * @throws {RangeError} When `playerId` is taken in one of the rooms, or not an integer from 1.
   */
  join(rooms: string | readonly string[], options: ServerJoinOptions = {}): RoomMember[] {
    if (!this.#connected) return [];
    const list = typeof rooms === "string" ? [rooms] : rooms;
    const { playerId } = options;
    if (playerId !== undefined) {
      for (const room of list) {
        const taken = this.nsp.getRoom(room)?.members.get(this.id) === undefined &&
          this.nsp.getRoom(room)?.playerIdFree(playerId) === false;
        if (!Number.isInteger(playerId) || playerId < 1 || taken) {
          throw new RangeError(`Player id ${playerId} is not a free id of ${room}`);
        }
      }
    }
    const { leave, ...identity } = options;
    const members: RoomMember[] = [];
    // With one room, `leave` goes in the same step; with several, it is left after them all.
    const step = list.length === 1 && leave !== undefined ? { ...identity, leave } : identity;
    for (const room of list) {
      const member = this.nsp.roomMoves.join(this, room, { ...step, asked: false });
      if (member !== undefined) members.push(member);
    }
    if (leave !== undefined && list.length > 1) this.leave(leave);
    return members;
  }

  /**
   * Removes the socket from a room. Its own room cannot be left.
   *
   * @param room The room.
   */
  leave(room: string): void {
    if (!this.#connected || room === this.id) return;
    this.nsp.roomMoves.leave(this, room, this.#core.options.sendRoomEvents);
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
  receiveRaw(data: Uint8Array): void {
    this.emitLifecycle("raw", data);
  }

  /** @ignore */
  receiveJoin(request: RoomJoinValue): void {
    void requestJoin(this, request);
  }

  /** @ignore */
  receiveCreate(request: RoomCreateValue): void {
    void requestCreate(this, request);
  }

  /** @ignore */
  receiveList(request: RoomListRequestValue): void {
    requestList(this, request);
  }

  /** @ignore */
  receiveWatch(watch: boolean): void {
    this.nsp.roomMoves.registry.watch(this, watch);
  }

  /** @ignore */
  receiveLeave(room: string): void {
    if (room === this.id) return;
    // The reply below is the one RoomLeft; leave must not send another.
    this.nsp.roomMoves.leave(this, room, false);
    this.deliverControl(encodeFrame(RoomLeft, { room }, { channel: this.channel }));
  }

  /**
   * The connection dropped and the session is kept: the socket stays in its namespace (and its
   * rooms, unless `keepRooms` is off) until it recovers or expires.
   *
   * @ignore
   */
  connectionLost(reason: DisconnectReason, keepRooms: boolean): void {
    if (!this.#connected || this.#away) return;
    this.#away = true;
    if (!keepRooms) this.nsp.roomMoves.leaveAll(this);
    this.emitLifecycle("disconnect", reason);
  }

  /** @ignore */
  recovered(): void {
    if (!this.#away) return;
    this.#away = false;
    this.emitLifecycle("recover");
  }

  /** @ignore */
  expire(): void {
    if (!this.#connected) return;
    this.#connected = false;
    this.#away = false;
    this.nsp.remove(this);
    this.failAcks(new SocketClosedError(this.nsp.name));
    this.emitLifecycle("expired");
  }

  /** @ignore */
  teardown(reason: DisconnectReason): void {
    if (!this.#connected) return;
    // A socket whose session was waiting for its client ends as an expired one.
    if (this.#away) return this.expire();
    this.emitLifecycle("disconnecting", reason);
    this.#connected = false;
    this.nsp.remove(this);
    this.failAcks(new SocketClosedError(this.nsp.name));
    this.emitLifecycle("disconnect", reason);
  }

  /** @ignore */
  deliverControl(frame: Uint8Array): void {
    if (this.#connected) this.transmit(frame, RELIABLE);
  }

  /**
   * Sends a frame and counts it in the socket's stats.
   *
   * @param frame The frame.
   * @param options Volatility, delivery class and fallback.
   * @param event The event name its id stands for.
   * @returns What became of it.
   */
  protected override transmit(frame: Uint8Array, options: SendOptions, event?: string): EmitStatus {
    const status = super.transmit(frame, options, event);
    if (status === "sent") this.countOut(frame.length);
    return status;
  }

  /**
   * Sends an error no socket listener took to the namespace (then the server), and disconnects
   * the socket when `closeOnError` is on.
   *
   * @param error The error.
   */
  protected override reportError(error: unknown): void {
    super.reportError(error);
    if (this.#core.options.closeOnError) this.disconnect();
  }

  /**
   * Where an error goes that no `error` listener of the socket took: the namespace.
   *
   * @param error The error.
   */
  protected unhandledError(error: unknown): void {
    this.nsp.reportError(error, this);
  }
}
