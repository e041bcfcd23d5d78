/**
 * A room of a namespace, as the server holds it: its options, its members with their player names
 * and ids, and the game's state for it.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import {
  encodeMetadata,
  type RoomInfo,
  type RoomMember,
  type RoomMetadata,
} from "../session/room_listing.ts";

/** The options of a room, from `nsp.createRoom` or a client's `createRoom`. */
export interface RoomOptions {
  /**
   * The most members at once. A join past it is refused with `full`; the server's own
   * `socket.join` is not limited.
   *
   * @default {no limit}
   */
  capacity?: number;
  /**
   * A key: joining needs it (`wrong_key` otherwise). Listings say the room is `locked`, never
   * the key.
   *
   * @default {none}
   */
  key?: string;
  /**
   * A small JSON object (the map, the mode), readable by anyone who may list the room.
   *
   * @default {{}}
   */
  metadata?: RoomMetadata;
  /**
   * A hidden room is never listed; it is joined by name (with its key, if it has one).
   *
   * @default {false}
   */
  hidden?: boolean;
  /**
   * Milliseconds an empty room is kept before it is deleted; a join within them keeps it. `0`
   * deletes it when its last member leaves; `Infinity` (server only) keeps it until
   * `nsp.deleteRoom`. A room created without members counts as empty from its creation.
   *
   * @default {0}
   */
  emptyTimeout?: number;
}

/** Changes to a room's options (`room.update`): `key: null` removes the key. */
export interface RoomUpdate {
  /** The new capacity (`null`: no limit). It may be below the member count: no one is removed. */
  capacity?: number | null;
  /** The new key (`null`: none). */
  key?: string | null;
  /** The new metadata, replacing the old. */
  metadata?: RoomMetadata;
  /** Whether the room is listed. */
  hidden?: boolean;
  /**
   * The new grace period when empty. On an empty room it starts again with the new value (`0`
   * deletes the room at once, `Infinity` keeps it).
   */
  emptyTimeout?: number;
}

/** What a room asks of its namespace. @ignore */
export interface RoomHost {
  /** The room's options changed (for listings); `regrace`: its grace period, too. */
  roomChanged(room: Room, regrace: boolean): void;
  /** Checks new options. */
  checkUpdate(room: Room, update: RoomUpdate): void;
  /** Deletes the room. */
  deleteRoom(name: string): boolean;
}

/**
 * A room. Its members are sockets of one namespace; `data` holds the game's state for as long as
 * the room lives.
 */
export class Room {
  /** The room's name. */
  readonly name: string;
  /** When it was created. */
  readonly createdAt: Date = new Date();
  /** The socket whose request created it; `undefined` for rooms the server made. */
  readonly createdBy: string | undefined;
  /** The game's state for this room, kept as long as the room lives. */
  data: Record<string, unknown> = {};
  #host: RoomHost;
  #capacity: number | undefined;
  #keyDigest: Uint8Array | undefined;
  #metadata: RoomMetadata;
  #metadataBytes: Uint8Array | undefined;
  #hidden: boolean;
  #emptyTimeout: number;
  #members = new Map<string, RoomMember>();
  #playerIds = new Set<number>();
  #deleted = false;

  /**
   * Made by the namespace.
   *
   * @ignore
   */
  constructor(name: string, options: RoomOptions, host: RoomHost, createdBy?: string) {
    this.name = name;
    this.#host = host;
    this.createdBy = createdBy;
    this.#capacity = options.capacity;
    this.#keyDigest = options.key === undefined ? undefined : digest(options.key);
    this.#metadata = options.metadata ?? {};
    this.#hidden = options.hidden ?? false;
    this.#emptyTimeout = options.emptyTimeout ?? 0;
  }

  /** The most members at once; `undefined` for no limit. */
  get capacity(): number | undefined {
    return this.#capacity;
  }

  /** Whether joining needs a key. */
  get locked(): boolean {
    return this.#keyDigest !== undefined;
  }

  /** The room's metadata. */
  get metadata(): RoomMetadata {
    return this.#metadata;
  }

  /** Whether the room is left out of listings. */
  get hidden(): boolean {
    return this.#hidden;
  }

  /** Milliseconds the room is kept once empty. */
  get emptyTimeout(): number {
    return this.#emptyTimeout;
  }

  /** The members, by socket id, in the order they joined. */
  get members(): ReadonlyMap<string, RoomMember> {
    return this.#members;
  }

  /** How many members it has (sockets waiting for their client to come back included). */
  get size(): number {
    return this.#members.size;
  }

  /** Whether it is at capacity. */
  get full(): boolean {
    return this.#capacity !== undefined && this.#members.size >= this.#capacity;
  }

  /** The room as listings show it. */
  get info(): RoomInfo {
    return {
      name: this.name,
      members: this.#members.size,
      ...(this.#capacity === undefined ? {} : { capacity: this.#capacity }),
      metadata: this.#metadata,
      locked: this.locked,
    };
  }

  /**
   * The metadata as JSON text in UTF-8, as it travels.
   *
   * @ignore
   */
  get metadataBytes(): Uint8Array {
    return this.#metadataBytes ??= encodeMetadata(this.#metadata);
  }

  /** Whether it has been deleted. */
  get deleted(): boolean {
    return this.#deleted;
  }

  /**
   * Changes the room's options; sockets watching the listing are told.
   *
   * @param update The options to change.
   * @throws {RangeError} When a value is out of range (as for `createRoom`).
   */
  update(update: RoomUpdate): void {
    if (this.#deleted) return;
    this.#host.checkUpdate(this, update);
    if (update.capacity !== undefined) this.#capacity = update.capacity ?? undefined;
    if (update.key !== undefined) {
      this.#keyDigest = update.key === null ? undefined : digest(update.key);
    }
    if (update.metadata !== undefined) {
      this.#metadata = update.metadata;
      this.#metadataBytes = undefined;
    }
    if (update.hidden !== undefined) this.#hidden = update.hidden;
    if (update.emptyTimeout !== undefined) this.#emptyTimeout = update.emptyTimeout;
    this.#host.roomChanged(this, update.emptyTimeout !== undefined);
  }

  /**
   * Deletes the room: its members leave it (each told), then it is gone.
   *
   * @returns Whether it existed.
   */
  delete(): boolean {
    return this.#host.deleteRoom(this.name);
  }

  /**
   * Whether `key` opens the room, compared in constant time (digests of both, so neither the
   * length nor the content of the key shows in the time taken).
   *
   * @ignore
   */
  opens(key: string | undefined): boolean {
    if (this.#keyDigest === undefined) return true;
    return timingSafeEqual(this.#keyDigest, digest(key ?? ""));
  }

  /**
   * Whether a player id is free.
   *
   * @ignore
   */
  playerIdFree(playerId: number): boolean {
    return !this.#playerIds.has(playerId);
  }

  /**
   * Seats a socket, with the lowest free player id unless one is given.
   *
   * @ignore
   */
  seat(socketId: string, player: string | undefined, playerId?: number): RoomMember {
    let id = playerId ?? 1;
    if (playerId === undefined) { while (this.#playerIds.has(id)) id++; }
    this.#playerIds.add(id);
    const member: RoomMember = player === undefined
      ? { room: this.name, socketId, playerId: id }
      : { room: this.name, socketId, player, playerId: id };
    this.#members.set(socketId, member);
    return member;
  }

  /**
   * Frees a socket's seat and player id.
   *
   * @ignore
   */
  unseat(socketId: string): RoomMember | undefined {
    const member = this.#members.get(socketId);
    if (member === undefined) return undefined;
    this.#members.delete(socketId);
    this.#playerIds.delete(member.playerId);
    return member;
  }

  /** @ignore */
  markDeleted(): void {
    this.#deleted = true;
  }
}

function digest(key: string): Uint8Array {
  return createHash("sha256").update(key).digest();
}
