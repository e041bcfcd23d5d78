/**
 * The rooms of a namespace in motion: creating, joining, leaving, moving from one room to another
 * in one step, and deleting, with the socket, the other members and the namespace's listeners
 * told.
 *
 * @module
 */

import {
  encodeEntryList,
  encodeFrame,
  MemberEntered,
  MemberLeft,
  MemberMoved,
  RoomJoined,
  RoomLeft,
  RoomMemberEntry,
} from "../protocol/mod.ts";
import { LIST_BUDGET } from "../session/room_listing.ts";
import type { TimerQueue } from "../session/timer_queue.ts";
import type { Adapter, BroadcastPacket } from "./adapter.ts";
import { Room, type RoomHost, type RoomOptions, type RoomUpdate } from "./room.ts";
import type { RoomMember } from "../session/room_listing.ts";
import { RoomRegistry } from "./room_registry.ts";
import { type ResolvedRoomPolicy, roomOptionsProblem } from "./room_policy.ts";
import type { AnyServerSocket } from "./server_core.ts";
import { SharedFrame } from "./shared_frame.ts";

/** The room events of a namespace, each with the room's state. */
export interface RoomEvents {
  /** A room was created. */
  room_created: (room: Room) => void;
  /** A socket joined a room, as `member`. */
  room_joined: (room: Room, member: RoomMember) => void;
  /** A socket left a room (`member` says who it was there). */
  room_left: (room: Room, member: RoomMember) => void;
  /** A join filled a room to its capacity. */
  room_full: (room: Room) => void;
  /** A room was deleted: emptied, its grace period over, or deleted by the server. */
  room_deleted: (room: Room) => void;
}

/** What the rooms need of their namespace. */
export interface RoomsHost {
  /** Membership and fan-out. */
  readonly adapter: Adapter;
  /** Whether members are told of each other (`sendRoomEvents`). */
  readonly sendRoomEvents: boolean;
  /** A socket of the namespace by id. */
  socket(id: string): AnyServerSocket | undefined;
  /** Delivers a frame to one socket of the namespace. */
  deliver(id: string, packet: BroadcastPacket): void;
  /** Emits a room event on the namespace. */
  emit<E extends keyof RoomEvents>(event: E, ...args: Parameters<RoomEvents[E]>): void;
}

/** Who a socket is in the room it joins, and how it asked. */
export interface JoinStep {
  /** A room to leave in the same step. */
  readonly leave?: string;
  /** Its player name. */
  readonly player?: string;
  /** Its player id; the lowest free one when absent. */
  readonly playerId?: number;
  /** The request it answers: the socket is told even when `sendRoomEvents` is off. */
  readonly requestId?: number;
  /** Whether the socket asked (its answer is sent whatever `sendRoomEvents` says). */
  readonly asked: boolean;
}

/** Bytes a member entry takes besides its player name, at most. */
const MEMBER_OVERHEAD = 32;

/** The rooms of a namespace. */
export class Rooms implements RoomHost {
  /** The rooms, by name and in name order. */
  readonly registry: RoomRegistry;
  #host: RoomsHost;

  /**
   * Creates the rooms of a namespace.
   *
   * @param host The namespace.
   * @param policy Its rooms policy.
   * @param timers The server's timer queue.
   */
  constructor(host: RoomsHost, policy: ResolvedRoomPolicy, timers: TimerQueue) {
    this.#host = host;
    this.registry = new RoomRegistry(policy, timers, (room) => this.deleteRoom(room.name));
  }

  /**
   * Creates a room.
   *
   * @param name Its name.
   * @param options Its options, already checked.
   * @param createdBy The socket whose request created it.
   * @returns The room.
   */
  create(name: string, options: RoomOptions, createdBy?: string): Room {
    const room = new Room(name, options, this, createdBy);
    this.registry.add(room);
    // A room made empty waits its grace period for a first member; with none, the server's own
    // rooms wait for ever (clients may not create an empty room without one).
    if (room.emptyTimeout > 0) this.registry.emptied(room);
    this.#host.emit("room_created", room);
    return room;
  }

  /**
   * Puts a socket in a room (creating it when it does not exist), leaving `step.leave` in the
   * same step: the socket is told once (`RoomJoined`, with `left`), members of only the room left
   * get `MemberLeft`, members of only the room joined `MemberEntered`, and members of both one
   * `MemberMoved`, all before anything else is sent.
   *
   * @param socket The socket.
   * @param name The room.
   * @param step Where it comes from and who it is.
   * @returns Its place in the room, or `undefined` for another socket's own room.
   */
  join(socket: AnyServerSocket, name: string, step: JoinStep): RoomMember | undefined {
    const id = socket.id;
    const adapter = this.#host.adapter;
    if (adapter.socketRooms(id).has(name)) return this.registry.rooms.get(name)?.members.get(id);
    if (this.#host.socket(name) !== undefined) {
      // Another socket's own room, joined by the server's code: membership only.
      adapter.addAll(id, [name]);
      return undefined;
    }
    const from = step.leave !== undefined && step.leave !== id && step.leave !== name &&
        adapter.socketRooms(id).has(step.leave)
      ? step.leave
      : undefined;
    const room = this.registry.rooms.get(name) ?? this.create(name, {});
    const fromRoom = from === undefined ? undefined : this.registry.rooms.get(from);
    const left = from === undefined ? undefined : fromRoom?.unseat(id);
    if (from !== undefined) adapter.del(id, from);
    const member = room.seat(id, step.player, step.playerId);
    this.registry.occupied(room);
    adapter.addAll(id, [name]);

    if (step.asked || this.#host.sendRoomEvents) {
      socket.deliverControl(this.#joined(socket, room, member, from, step));
    }
    if (this.#host.sendRoomEvents) this.#tellMove(id, from, name, member, left);
    if (fromRoom !== undefined && left !== undefined) this.#host.emit("room_left", fromRoom, left);
    this.#host.emit("room_joined", room, member);
    if (room.full) this.#host.emit("room_full", room);
    this.registry.changed(room);
    if (fromRoom !== undefined) this.#afterLeave(fromRoom);
    return member;
  }

  /**
   * Takes a socket out of a room.
   *
   * @param socket The socket.
   * @param name The room.
   * @param tell Whether to tell the socket (`RoomLeft`).
   */
  leave(socket: AnyServerSocket, name: string, tell: boolean): void {
    const id = socket.id;
    const adapter = this.#host.adapter;
    if (!adapter.socketRooms(id).has(name)) return;
    const room = this.registry.rooms.get(name);
    const member = room?.unseat(id);
    adapter.del(id, name);
    if (tell) {
      socket.deliverControl(encodeFrame(RoomLeft, { room: name }, { channel: socket.channel }));
    }
    if (room === undefined || member === undefined) return;
    if (this.#host.sendRoomEvents) this.#tellMembers(name, id, MemberLeft, member);
    this.#host.emit("room_left", room, member);
    this.#afterLeave(room);
  }

  /**
   * Takes a socket out of every room but its own (it is leaving the namespace, or its session
   * keeps no rooms).
   *
   * @param socket The socket.
   */
  leaveAll(socket: AnyServerSocket): void {
    for (const room of [...this.#host.adapter.socketRooms(socket.id)]) {
      if (room !== socket.id) this.leave(socket, room, false);
    }
  }

  /**
   * Deletes a room: each member leaves it (and is told), then it is gone.
   *
   * @param name The room.
   * @returns Whether it existed.
   */
  deleteRoom(name: string): boolean {
    const room = this.registry.rooms.get(name);
    if (room === undefined) return false;
    room.markDeleted();
    for (const member of [...room.members.values()]) {
      room.unseat(member.socketId);
      this.#host.adapter.del(member.socketId, name);
      const socket = this.#host.socket(member.socketId);
      socket?.deliverControl(encodeFrame(RoomLeft, { room: name }, { channel: socket.channel }));
      this.#host.emit("room_left", room, member);
    }
    this.registry.remove(room);
    this.#host.emit("room_deleted", room);
    return true;
  }

  /** @ignore */
  roomChanged(room: Room, regrace: boolean): void {
    this.registry.changed(room);
    if (!regrace || room.size > 0) return;
    this.registry.occupied(room);
    if (this.registry.emptied(room)) this.deleteRoom(room.name);
  }

  /** @ignore */
  checkUpdate(_room: Room, update: RoomUpdate): void {
    const problem = roomOptionsProblem(update, this.registry.policy, false);
    if (problem !== undefined) throw new RangeError(problem);
  }

  #afterLeave(room: Room): void {
    this.registry.changed(room);
    if (room.size === 0 && this.registry.emptied(room)) this.deleteRoom(room.name);
  }

  /** The answer a socket gets on joining: the room as it is now, itself included. */
  #joined(
    socket: AnyServerSocket,
    room: Room,
    member: RoomMember,
    left: string | undefined,
    step: JoinStep,
  ): Uint8Array {
    const entries = [];
    let budget = LIST_BUDGET;
    for (const other of room.members.values()) {
      budget -= MEMBER_OVERHEAD + (other.player?.length ?? 0) * 3;
      if (budget < 0) break;
      entries.push(other);
    }
    return encodeFrame(RoomJoined, {
      room: room.name,
      ...(left === undefined ? {} : { left }),
      playerId: member.playerId,
      ...(member.player === undefined ? {} : { player: member.player }),
      members: encodeEntryList(RoomMemberEntry, entries),
      memberCount: room.size,
      ...(room.capacity === undefined ? {} : { capacity: room.capacity }),
      metadata: room.metadataBytes,
      ...(step.requestId === undefined ? {} : { requestId: step.requestId }),
    }, { channel: socket.channel });
  }

  /** Tells the other members of both rooms of a socket's move (or plain join). */
  #tellMove(
    id: string,
    from: string | undefined,
    to: string,
    member: RoomMember,
    left: RoomMember | undefined,
  ): void {
    // Another socket's own room, left by the server's code, has no members to tell.
    if (from === undefined || left === undefined) {
      return this.#tellMembers(to, id, MemberEntered, member);
    }
    const adapter = this.#host.adapter;
    const before = adapter.members(from);
    const after = adapter.members(to);
    const gone = memberPacket(MemberLeft, from, left);
    const came = memberPacket(MemberEntered, to, member);
    const moved = new SharedFrame((channel) =>
      encodeFrame(MemberMoved, {
        from,
        to,
        socketId: id,
        ...(member.player === undefined ? {} : { player: member.player }),
        playerId: member.playerId,
      }, { channel }), { volatile: false, onEncode: () => {} });
    for (const other of before) this.#host.deliver(other, after.has(other) ? moved : gone);
    for (const other of after) {
      if (other !== id && !before.has(other)) this.#host.deliver(other, came);
    }
  }

  #tellMembers(
    room: string,
    id: string,
    schema: typeof MemberEntered | typeof MemberLeft,
    member: RoomMember,
  ): void {
    this.#host.adapter.broadcast(memberPacket(schema, room, member), {
      rooms: new Set([room]),
      except: new Set([id]),
    });
  }
}

function memberPacket(
  schema: typeof MemberEntered | typeof MemberLeft,
  room: string,
  member: RoomMember,
): SharedFrame {
  return new SharedFrame((channel) =>
    encodeFrame(schema, {
      room,
      socketId: member.socketId,
      ...(member.player === undefined ? {} : { player: member.player }),
      playerId: member.playerId,
    }, { channel }), { volatile: false, onEncode: () => {} });
}
