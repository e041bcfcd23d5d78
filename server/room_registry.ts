/**
 * The rooms of one namespace: by name and in name order (for listings), the rooms each socket
 * created, the grace period of empty rooms, and the sockets watching the listing.
 *
 * @module
 */

import { encodeFrame, RoomListing } from "../protocol/mod.ts";
import {
  LIST_BUDGET,
  matchesFilter,
  pageSize,
  type RoomFilter,
  type RoomInfo,
  type RoomPage,
} from "../session/room_listing.ts";
import type { TimerEntry, TimerQueue } from "../session/timer_queue.ts";
import type { Room } from "./room.ts";
import type { ResolvedRoomPolicy } from "./room_policy.ts";
import type { AnyServerSocket } from "./server_core.ts";
import { SharedFrame } from "./shared_frame.ts";

/** Bytes a listing takes besides its name and metadata (counts, flags, lengths), at most. */
const LISTING_OVERHEAD = 16;

/** The rooms of a namespace. */
export class RoomRegistry {
  readonly policy: ResolvedRoomPolicy;
  #timers: TimerQueue;
  #expire: (room: Room) => void;
  #rooms = new Map<string, Room>();
  /** Every room's name, sorted, for pages in name order. */
  #names: string[] = [];
  #createdBy = new Map<string, number>();
  #emptyTimers = new Map<Room, TimerEntry>();
  #watchers = new Set<AnyServerSocket>();
  /** Rooms changed since watchers were last told. */
  #changed = new Set<string>();
  /** Rooms watchers may have seen listed (so that a deletion or hiding is worth telling). */
  #visible = new Set<string>();
  #flush: TimerEntry | undefined;

  /**
   * Creates the registry of a namespace.
   *
   * @param policy The namespace's rooms policy.
   * @param timers The server's timer queue.
   * @param expire Deletes a room whose grace period ended empty.
   */
  constructor(policy: ResolvedRoomPolicy, timers: TimerQueue, expire: (room: Room) => void) {
    this.policy = policy;
    this.#timers = timers;
    this.#expire = expire;
  }

  /** How many rooms there are. */
  get size(): number {
    return this.#rooms.size;
  }

  /** Every room, by name. */
  get rooms(): ReadonlyMap<string, Room> {
    return this.#rooms;
  }

  /**
   * How many rooms a socket's requests created that still exist.
   *
   * @param socketId The socket.
   * @returns The count.
   */
  createdBy(socketId: string): number {
    return this.#createdBy.get(socketId) ?? 0;
  }

  /**
   * Adds a new room.
   *
   * @param room The room.
   */
  add(room: Room): void {
    this.#rooms.set(room.name, room);
    this.#names.splice(this.#indexAfter(room.name, true), 0, room.name);
    if (room.createdBy !== undefined) {
      this.#createdBy.set(room.createdBy, this.createdBy(room.createdBy) + 1);
    }
    this.changed(room);
  }

  /**
   * Removes a deleted room.
   *
   * @param room The room.
   */
  remove(room: Room): void {
    if (this.#rooms.get(room.name) !== room) return;
    this.#rooms.delete(room.name);
    this.#names.splice(this.#indexAfter(room.name, true), 1);
    const creator = room.createdBy;
    const count = creator === undefined ? undefined : this.#createdBy.get(creator);
    if (count !== undefined) {
      if (count <= 1) this.#createdBy.delete(creator!);
      else this.#createdBy.set(creator!, count - 1);
    }
    this.occupied(room);
    this.changed(room);
  }

  /**
   * A room's last member left (or it was created empty): it is deleted at once (`true`) or
   * after its grace period.
   *
   * @param room The room.
   * @returns Whether to delete it now.
   */
  emptied(room: Room): boolean {
    const timeout = room.emptyTimeout;
    if (timeout === 0) return true;
    if (timeout !== Infinity && !this.#emptyTimers.has(room)) {
      this.#emptyTimers.set(
        room,
        this.#timers.schedule(timeout, () => {
          this.#emptyTimers.delete(room);
          if (room.size === 0) this.#expire(room);
        }),
      );
    }
    return false;
  }

  /**
   * A room has a member again (or is gone): its grace period stops.
   *
   * @param room The room.
   */
  occupied(room: Room): void {
    const timer = this.#emptyTimers.get(room);
    if (timer === undefined) return;
    this.#timers.cancel(timer);
    this.#emptyTimers.delete(room);
  }

  /**
   * A socket is gone: it no longer watches, and the rooms it created no longer count for it.
   *
   * @param socket The socket.
   */
  socketGone(socket: AnyServerSocket): void {
    this.#watchers.delete(socket);
    this.#createdBy.delete(socket.id);
  }

  /**
   * Starts or stops telling a socket of changes to listed rooms.
   *
   * @param socket The socket.
   * @param watch Whether it watches.
   */
  watch(socket: AnyServerSocket, watch: boolean): void {
    if (watch) this.#watchers.add(socket);
    else this.#watchers.delete(socket);
  }

  /**
   * A room changed in a way listings show (created, deleted, members, options): watchers are
   * told after `listingInterval`.
   *
   * @param room The room.
   */
  changed(room: Room): void {
    const visible = !room.hidden && !room.deleted;
    if (this.#watchers.size === 0) {
      // No one to tell now; a later watcher lists first, and learns of what changes after.
      if (visible) this.#visible.add(room.name);
      else this.#visible.delete(room.name);
      return;
    }
    if (visible) this.#visible.add(room.name);
    this.#changed.add(room.name);
    this.#flush ??= this.#timers.schedule(this.policy.listingInterval, () => this.#tell());
  }

  /**
   * A page of listed rooms.
   *
   * @param filter Conditions and paging.
   * @returns The page, in name order.
   * @throws {RangeError} For a page size out of 1..100.
   */
  list(filter: RoomFilter = {}): RoomPage {
    const limit = pageSize(filter.limit);
    const rooms: RoomInfo[] = [];
    let budget = LIST_BUDGET;
    let i = filter.after === undefined ? 0 : this.#indexAfter(filter.after, false);
    for (; i < this.#names.length && rooms.length < limit; i++) {
      const room = this.#rooms.get(this.#names[i]!)!;
      if (room.hidden) continue;
      const info = room.info;
      if (!matchesFilter(info, filter)) continue;
      budget -= room.name.length * 3 + room.metadataBytes.length + LISTING_OVERHEAD;
      if (budget < 0 && rooms.length > 0) break;
      rooms.push(info);
    }
    // Stopped early (the page or the budget is full) with rooms left to look at: there may be more.
    return i < this.#names.length ? { rooms, next: rooms.at(-1)!.name } : { rooms };
  }

  /** Cancels every timer (the namespace is going away). */
  clear(): void {
    for (const timer of this.#emptyTimers.values()) this.#timers.cancel(timer);
    this.#emptyTimers.clear();
    if (this.#flush !== undefined) this.#timers.cancel(this.#flush);
    this.#flush = undefined;
    this.#watchers.clear();
  }

  /** Tells watchers of the rooms changed since the last time. */
  #tell(): void {
    this.#flush = undefined;
    const names = [...this.#changed];
    this.#changed.clear();
    for (const name of names) {
      const room = this.#rooms.get(name);
      let value;
      if (room !== undefined && !room.hidden) {
        value = {
          room: name,
          members: room.size,
          ...(room.capacity === undefined ? {} : { capacity: room.capacity }),
          metadata: room.metadataBytes,
          ...(room.locked ? { locked: true } : {}),
        };
      } else {
        if (!this.#visible.delete(name)) continue;
        value = { room: name, members: 0, removed: true };
      }
      const packet = new SharedFrame(
        (channel) => encodeFrame(RoomListing, value, { channel }),
        { volatile: false, onEncode: () => {} },
      );
      for (const socket of this.#watchers) socket.deliverControl(packet.frameFor(socket.channel));
    }
  }

  /**
   * The index of the first name after `name` (or at it, with `inclusive`) in sorted order.
   */
  #indexAfter(name: string, inclusive: boolean): number {
    let low = 0;
    let high = this.#names.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const other = this.#names[mid]!;
      if (other < name || (!inclusive && other === name)) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
