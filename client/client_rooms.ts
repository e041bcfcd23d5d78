/**
 * A client socket's room requests and what it knows of its rooms: joins, leaves, creates and
 * listings in flight, each matched with the server's answer or failed by a timeout.
 *
 * @module
 */

import {
  decodeEntryList,
  encodeFrame,
  ErrorCode,
  LIMIT_NAMES,
  type LimitName,
  RoomCreate,
  RoomJoin,
  RoomLeave,
  RoomListing,
  RoomListRequest,
  RoomMemberEntry,
  RoomWatch,
} from "../protocol/mod.ts";
import { JoinError, type JoinErrorCode } from "../session/errors.ts";
import {
  decodeMetadata,
  encodeMetadata,
  isObject,
  MAX_PAGE_SIZE,
  pageSize,
  type RoomFilter,
  type RoomInfo,
  type RoomMember,
  type RoomMetadata,
  type RoomPage,
} from "../session/room_listing.ts";
import type { TimerEntry, TimerQueue } from "../session/timer_queue.ts";

/** Options of `join`. */
export interface JoinOptions {
  /**
   * A room to leave in the same step: the socket is never in neither nor in both, as the other
   * members see it.
   */
  leave?: string;
  /** The room's key, for rooms that need one. */
  key?: string;
  /** The player's name (the server's join hook may set another). */
  player?: string;
  /**
   * Milliseconds to wait for the server's answer.
   *
   * @default {the client's `ackTimeout` (10000)}
   */
  timeout?: number;
}

/** Options of `createRoom`. */
export interface CreateRoomOptions {
  /**
   * The most members at once (1 up to the server's `rooms.maxCapacity`).
   *
   * @default {no limit}
   */
  capacity?: number;
  /** A key joining needs (a private room). @default {none} */
  key?: string;
  /** A small JSON object anyone who may list the room reads (the map, the mode). @default {{}} */
  metadata?: RoomMetadata;
  /** Whether the room is left out of listings (joined by name only). @default {false} */
  hidden?: boolean;
  /**
   * Whether this socket joins the room it creates.
   *
   * @default {true}
   */
  join?: boolean;
  /**
   * Milliseconds the room is kept once empty (up to the server's `rooms.maxEmptyTimeout`); `0`
   * deletes it when its last member leaves. A room created without joining needs more than 0.
   *
   * @default {0}
   */
  emptyTimeout?: number;
  /** The player's name, when joining. */
  player?: string;
  /** A room to leave in the same step, when joining. */
  leave?: string;
  /**
   * Milliseconds to wait for the server's answer.
   *
   * @default {the client's `ackTimeout` (10000)}
   */
  timeout?: number;
}

/** A member that moved from one room to another in one step (`member_moved`). */
export interface MovedMember {
  /** The room it left. */
  readonly from: string;
  /** The room it joined. */
  readonly to: string;
  /** Its socket id. */
  readonly socketId: string;
  /** Its player name, if it has one. */
  readonly player?: string;
  /** Its player id in `to`. */
  readonly playerId: number;
}

/** What joining a room gave: the room as it is now, and this socket's place in it. */
export interface JoinedRoom {
  /** The room. */
  readonly room: string;
  /** The room left in the same step, if any. */
  readonly left?: string;
  /** This socket's player id in the room. */
  readonly playerId: number;
  /** This socket's player name, as the server set it. */
  readonly player?: string;
  /** The members, this socket included, in the order they joined (up to 32 KiB of them). */
  readonly members: readonly RoomMember[];
  /** How many members the room has (`members` may list fewer in a very large room). */
  readonly memberCount: number;
  /** The most members at once; absent for no limit. */
  readonly capacity?: number;
  /** The room's metadata. */
  readonly metadata: RoomMetadata;
}

/** What a socket joined a room with, to join it again in a fresh session. @ignore */
export interface RejoinOptions {
  readonly key?: string;
  readonly player?: string;
}

/** The values of the room frames the server answers with. @ignore */
export interface RoomJoinedValue {
  room: string;
  left?: string;
  playerId?: number;
  player?: string;
  members?: Uint8Array;
  memberCount?: number;
  capacity?: number;
  metadata?: Uint8Array;
  requestId?: number;
}

/** @ignore */
export interface RoomListingValue {
  room: string;
  members: number;
  capacity?: number;
  metadata?: Uint8Array;
  locked?: boolean;
  removed?: boolean;
}

/** What the rooms of a socket need from it. @ignore */
export interface ClientRoomsLink {
  readonly namespace: string;
  readonly channel: number;
  readonly timers: TimerQueue;
  /** The client's `ackTimeout`. */
  readonly ackTimeout: number;
  /** Sends a request frame; `false` when the socket cannot send. */
  send(frame: Uint8Array): boolean;
  /** Emits a lifecycle event of the socket. */
  emit(event: string, ...args: unknown[]): void;
}

interface Pending<T> {
  resolve: (value: T) => void;
  reject: (error: Error) => void;
  timer: TimerEntry;
}

/** The most entries a list from the server may hold. */
const MAX_ENTRIES = 65_535;

/** A client socket's rooms and room requests. @ignore */
export class ClientRooms {
  #link: ClientRoomsLink;
  /** The rooms the socket is in. */
  #rooms = new Set<string>();
  /** The key and player name the socket joined each room with, for a rejoin (when it gave any). */
  #joinedWith = new Map<string, RejoinOptions>();
  /** What each join or create in flight asked with, by room. */
  #asking = new Map<string, RejoinOptions>();
  #joins = new Map<string, Pending<JoinedRoom>>();
  #leaves = new Map<string, Pending<void>>();
  #creates = new Map<number, Pending<JoinedRoom | undefined>>();
  #lists = new Map<number, Pending<RoomPage>>();
  #nextRequest = 1;
  #watching = false;

  constructor(link: ClientRoomsLink) {
    this.#link = link;
  }

  /** The rooms the server has said the socket is in. */
  get rooms(): ReadonlySet<string> {
    return this.#rooms;
  }

  /** Whether the socket watches the listing. */
  get watching(): boolean {
    return this.#watching;
  }

  join(room: string, options: JoinOptions): Promise<JoinedRoom> {
    this.#joins.get(room)?.reject(new JoinError("refused", room, "Superseded by a later join"));
    const { leave, key, player } = options;
    return this.#remembering(
      room,
      rejoinOptions(key, player),
      this.#request(
        this.#joins,
        room,
        room,
        options.timeout,
        "joining",
        () =>
          encodeFrame(RoomJoin, {
            room,
            ...(leave === undefined ? {} : { leave }),
            ...(key === undefined ? {} : { key }),
            ...(player === undefined ? {} : { player }),
          }, { channel: this.#link.channel }),
      ),
    );
  }

  leave(room: string): Promise<void> {
    this.#leaves.get(room)?.resolve();
    return this.#request(
      this.#leaves,
      room,
      room,
      undefined,
      "leaving",
      () => encodeFrame(RoomLeave, { room }, { channel: this.#link.channel }),
    );
  }

  create(room: string, options: CreateRoomOptions): Promise<JoinedRoom | undefined> {
    const { capacity, key, metadata, hidden, emptyTimeout, player, leave } = options;
    if (room.length === 0) throw new RangeError("A room name cannot be empty");
    if (capacity !== undefined && !isVaruint(capacity, 1)) {
      throw new RangeError(`A room's capacity must be an integer from 1, got ${capacity}`);
    }
    if (emptyTimeout !== undefined && !isVaruint(emptyTimeout, 0)) {
      throw new RangeError(`A room's emptyTimeout must be an integer from 0, got ${emptyTimeout}`);
    }
    if (metadata !== undefined && !isObject(metadata)) {
      throw new TypeError("A room's metadata must be a JSON object");
    }
    const join = options.join ?? true;
    const requestId = this.#requestId();
    const created = this.#request(
      this.#creates,
      requestId,
      room,
      options.timeout,
      "creating",
      () =>
        encodeFrame(RoomCreate, {
          room,
          requestId,
          join,
          ...(capacity === undefined ? {} : { capacity }),
          ...(key === undefined ? {} : { key }),
          ...(metadata === undefined ? {} : { metadata: encodeMetadata(metadata) }),
          ...(hidden ? { hidden } : {}),
          ...(emptyTimeout === undefined ? {} : { emptyTimeout }),
          ...(join && player !== undefined ? { player } : {}),
          ...(join && leave !== undefined ? { leave } : {}),
        }, { channel: this.#link.channel }),
    );
    return join ? this.#remembering(room, rejoinOptions(key, player), created) : created;
  }

  list(filter: RoomFilter, timeout?: number): Promise<RoomPage> {
    const limit = pageSize(filter.limit);
    const requestId = this.#requestId();
    return this.#request(
      this.#lists,
      requestId,
      "",
      timeout,
      "listing rooms in",
      () =>
        encodeFrame(RoomListRequest, {
          requestId,
          limit,
          ...(filter.after === undefined ? {} : { after: filter.after }),
          ...(filter.prefix === undefined ? {} : { prefix: filter.prefix }),
          ...(filter.available ? { available: true } : {}),
          ...(filter.metadata === undefined ? {} : { metadata: encodeMetadata(filter.metadata) }),
        }, { channel: this.#link.channel }),
    );
  }

  watch(watch: boolean): void {
    this.#watching = watch;
    this.#link.send(encodeFrame(RoomWatch, { watch }, { channel: this.#link.channel }));
  }

  /** The server put the socket in a room: the answer to a join or create, or its own move. */
  joined(value: RoomJoinedValue): void {
    const joined = joinedRoom(value);
    if (joined.left !== undefined) this.#forgetRoom(joined.left);
    this.#rooms.add(joined.room);
    const asked = this.#asking.get(joined.room);
    if (asked !== undefined) this.#joinedWith.set(joined.room, asked);
    this.#asking.delete(joined.room);
    const create = value.requestId === undefined ? undefined : this.#creates.get(value.requestId);
    if (create !== undefined) this.#settle(this.#creates, value.requestId!)?.resolve(joined);
    else this.#settle(this.#joins, joined.room)?.resolve(joined);
    if (joined.left !== undefined) this.#link.emit("room_left", joined.left);
    this.#link.emit("room_joined", joined.room, joined);
  }

  left(room: string): void {
    this.#forgetRoom(room);
    this.#settle(this.#leaves, room)?.resolve();
    this.#link.emit("room_left", room);
  }

  created(requestId: number | undefined): void {
    if (requestId !== undefined) this.#settle(this.#creates, requestId)?.resolve(undefined);
  }

  refused(
    room: string,
    code: number,
    message: string | undefined,
    requestId?: number,
    limit?: string,
  ): void {
    const pending = requestId !== undefined && this.#creates.has(requestId)
      ? this.#settle(this.#creates, requestId)
      : this.#settle(this.#joins, room);
    const known = limit !== undefined && LIMIT_NAMES.has(limit) ? limit as LimitName : undefined;
    pending?.reject(
      new JoinError(joinErrorCode(code), room, message ?? `${room} was refused`, known),
    );
  }

  listed(requestId: number, rooms: Uint8Array, next: string | undefined): void {
    const page = decodeEntryList(RoomListing, rooms, MAX_PAGE_SIZE).map(roomInfo);
    this.#settle(this.#lists, requestId)?.resolve(
      next === undefined ? { rooms: page } : { rooms: page, next },
    );
  }

  listing(value: RoomListingValue): void {
    if (value.removed) this.#link.emit("room_unlisted", value.room);
    else this.#link.emit("room_listed", roomInfo(value));
  }

  /**
   * The session is fresh: the server knows none of the socket's rooms.
   *
   * @returns The rooms it was in, each with the key and player name it joined with.
   */
  forget(): [string, RejoinOptions][] {
    const rooms = [...this.#rooms].map((room): [string, RejoinOptions] => [
      room,
      this.#joinedWith.get(room) ?? {},
    ]);
    this.#rooms.clear();
    this.#joinedWith.clear();
    return rooms;
  }

  /** Fails every request in flight. */
  fail(error: Error): void {
    for (
      const map of [this.#joins, this.#leaves, this.#creates, this.#lists] as Map<
        unknown,
        Pending<never>
      >[]
    ) {
      for (const pending of map.values()) {
        this.#link.timers.cancel(pending.timer);
        pending.reject(error);
      }
      map.clear();
    }
  }

  /**
   * Remembers what a join or create asks with until its answer comes (a refusal or a timeout
   * forgets it, unless a later request replaced it).
   */
  #remembering<T>(room: string, asked: RejoinOptions, request: Promise<T>): Promise<T> {
    this.#asking.set(room, asked);
    request.catch(() => {
      if (this.#asking.get(room) === asked) this.#asking.delete(room);
    });
    return request;
  }

  #forgetRoom(room: string): void {
    this.#rooms.delete(room);
    this.#joinedWith.delete(room);
  }

  #requestId(): number {
    const id = this.#nextRequest;
    this.#nextRequest = id >= 0xffff_ffff ? 1 : id + 1;
    return id;
  }

  #request<K, T>(
    map: Map<K, Pending<T>>,
    key: K,
    room: string,
    timeout: number | undefined,
    doing: string,
    frame: () => Uint8Array,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const wait = timeout ?? this.#link.ackTimeout;
      const timer = this.#link.timers.schedule(wait, () => {
        if (map.get(key)?.timer !== timer) return;
        map.delete(key);
        const what = room === "" ? this.#link.namespace : room;
        reject(new JoinError("timeout", room, `No answer to ${doing} ${what} within ${wait} ms`));
      });
      map.set(key, { resolve, reject, timer });
      this.#link.send(frame());
    });
  }

  #settle<K, T>(map: Map<K, Pending<T>>, key: K): Pending<T> | undefined {
    const pending = map.get(key);
    if (pending === undefined) return undefined;
    map.delete(key);
    this.#link.timers.cancel(pending.timer);
    return pending;
  }
}

function joinedRoom(value: RoomJoinedValue): JoinedRoom {
  const { room } = value;
  const members = value.members === undefined
    ? []
    : decodeEntryList(RoomMemberEntry, value.members, MAX_ENTRIES).map((entry) => ({
      room,
      socketId: entry.socketId,
      ...(entry.player === undefined ? {} : { player: entry.player }),
      playerId: entry.playerId ?? 0,
    }));
  return {
    room,
    ...(value.left === undefined ? {} : { left: value.left }),
    playerId: value.playerId ?? 0,
    ...(value.player === undefined ? {} : { player: value.player }),
    members,
    memberCount: value.memberCount ?? members.length,
    ...(value.capacity === undefined ? {} : { capacity: value.capacity }),
    metadata: decodeMetadata(value.metadata) ?? {},
  };
}

function roomInfo(value: RoomListingValue): RoomInfo {
  return {
    name: value.room,
    members: value.members,
    ...(value.capacity === undefined ? {} : { capacity: value.capacity }),
    metadata: decodeMetadata(value.metadata) ?? {},
    locked: value.locked ?? false,
  };
}

function rejoinOptions(key: string | undefined, player: string | undefined): RejoinOptions {
  return { ...(key === undefined ? {} : { key }), ...(player === undefined ? {} : { player }) };
}

function isVaruint(value: number, min: number): boolean {
  return Number.isInteger(value) && value >= min && value <= 0xffff_ffff;
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
    case ErrorCode.AlreadyMember:
      return "already_member";
    case ErrorCode.InvalidRoomOptions:
      return "invalid";
    case ErrorCode.LimitExceeded:
      return "limit_exceeded";
    default:
      return "refused";
  }
}
