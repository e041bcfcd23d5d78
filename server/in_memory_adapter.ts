/**
 * The default adapter: rooms in a map, broadcasts delivered in this process.
 *
 * @module
 */

import type {
  Adapter,
  AdapterHost,
  BroadcastPacket,
  BroadcastResult,
  BroadcastTarget,
} from "./adapter.ts";

const EMPTY: ReadonlySet<string> = new Set();

/** Rooms and fan-out for one namespace, in memory. */
export class InMemoryAdapter implements Adapter {
  #host: AdapterHost;
  #rooms = new Map<string, Set<string>>();
  #socketRooms = new Map<string, Set<string>>();

  /**
   * Creates the adapter of a namespace.
   *
   * @param host The namespace.
   */
  constructor(host: AdapterHost) {
    this.#host = host;
  }

  get rooms(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.#rooms;
  }

  addAll(socketId: string, rooms: Iterable<string>): void {
    let mine = this.#socketRooms.get(socketId);
    if (mine === undefined) this.#socketRooms.set(socketId, mine = new Set());
    for (const room of rooms) {
      if (mine.has(room)) continue;
      mine.add(room);
      let members = this.#rooms.get(room);
      if (members === undefined) this.#rooms.set(room, members = new Set());
      members.add(socketId);
    }
  }

  del(socketId: string, room: string): void {
    const mine = this.#socketRooms.get(socketId);
    if (mine === undefined || !mine.delete(room)) return;
    const members = this.#rooms.get(room)!;
    members.delete(socketId);
    if (members.size === 0) this.#rooms.delete(room);
  }

  delAll(socketId: string): void {
    const mine = this.#socketRooms.get(socketId);
    if (mine === undefined) return;
    for (const room of [...mine]) this.del(socketId, room);
    this.#socketRooms.delete(socketId);
  }

  socketRooms(socketId: string): ReadonlySet<string> {
    return this.#socketRooms.get(socketId) ?? EMPTY;
  }

  members(room: string): ReadonlySet<string> {
    return this.#rooms.get(room) ?? EMPTY;
  }

  targets(target: BroadcastTarget): Set<string> {
    const ids = new Set<string>();
    const excluded = (id: string) => {
      if (target.except.size === 0) return false;
      if (target.except.has(id)) return true;
      for (const room of target.except) if (this.#rooms.get(room)?.has(id)) return true;
      return false;
    };
    if (target.rooms.size === 0) {
      for (const id of this.#host.socketIds()) if (!excluded(id)) ids.add(id);
    } else {
      for (const room of target.rooms) {
        for (const id of this.#rooms.get(room) ?? EMPTY) if (!excluded(id)) ids.add(id);
      }
    }
    return ids;
  }

  broadcast(packet: BroadcastPacket, target: BroadcastTarget): BroadcastResult {
    const result: BroadcastResult = {
      sent: 0,
      sentUdp: 0,
      dropped: 0,
      overflowed: 0,
      unavailable: 0,
    };
    // The common case, one room and no exceptions, needs no set of targets: its members are one.
    const ids = target.rooms.size === 1 && target.except.size === 0
      ? [...this.#rooms.get(target.rooms.values().next().value!) ?? EMPTY]
      : this.targets(target);
    for (const id of ids) {
      const status = this.#host.deliver(id, packet);
      if (status === "queued") result.sent++;
      else if (status === "datagram") result.sentUdp++;
      else if (status === "dropped") result.dropped++;
      else if (status === "overflow") result.overflowed++;
      else if (status === "unavailable") result.unavailable++;
    }
    return result;
  }
}
