/**
 * The adapter interface: room membership and fan-out of one namespace. The in-memory adapter
 * serves one process; a multi-node adapter (sharing rooms and broadcasts between servers) can
 * replace it through the `adapter` option without any change to the API.
 *
 * @module
 */

import type { Delivery, DeliveryStatus, UdpFallback } from "../session/delivery.ts";

/** A broadcast's frame, encoded once for every recipient. */
export interface BroadcastPacket {
  /** The event name the frame's event id stands for, when it carries one. */
  readonly event?: string;
  /** Whether the frame may be dropped for a recipient whose send queue is full. */
  readonly volatile: boolean;
  /** `reliable` (TCP), or `unreliable` / `sequenced` (UDP to recipients with a bound path). */
  readonly delivery: Delivery;
  /** What an unreliable frame does for a recipient without a UDP path. */
  readonly fallback: UdpFallback;
  /** The ack id the frame carries, when the broadcast collects acknowledgements. */
  readonly ackId?: number;
  /**
   * The frame for a recipient whose connection gave the namespace `channel`: the frame encoded
   * once, copied onto another channel where a connection uses another id.
   */
  frameFor(channel: number): Uint8Array;
}

/** Which sockets a broadcast reaches: members of any of `rooms` (all when empty), minus `except`. */
export interface BroadcastTarget {
  /** Rooms whose members receive it; every socket of the namespace when empty. */
  readonly rooms: ReadonlySet<string>;
  /** Rooms (socket ids included) whose members do not receive it. */
  readonly except: ReadonlySet<string>;
}

/**
 * What the namespace gives its adapter: its sockets, and delivery to them. Rooms themselves (their
 * options, members' player ids, creation and deletion) are the namespace's; the adapter keeps who
 * is in which room, for fan-out.
 */
export interface AdapterHost {
  /** The namespace's name. */
  readonly name: string;
  /** The ids of every local socket of the namespace. */
  socketIds(): Iterable<string>;
  /**
   * Delivers a broadcast to one local socket.
   *
   * @returns What became of the frame.
   */
  deliver(socketId: string, packet: BroadcastPacket): DeliveryStatus;
}

/** Room membership and fan-out for one namespace. */
export interface Adapter {
  /**
   * Adds a socket to rooms.
   *
   * @param socketId The socket.
   * @param rooms The rooms.
   */
  addAll(socketId: string, rooms: Iterable<string>): void;
  /**
   * Removes a socket from a room (a room with no members left is forgotten).
   *
   * @param socketId The socket.
   * @param room The room.
   */
  del(socketId: string, room: string): void;
  /**
   * Removes a socket from every room.
   *
   * @param socketId The socket.
   */
  delAll(socketId: string): void;
  /**
   * The rooms a socket is in.
   *
   * @param socketId The socket.
   * @returns Its rooms (empty when unknown).
   */
  socketRooms(socketId: string): ReadonlySet<string>;
  /**
   * The members of a room.
   *
   * @param room The room.
   * @returns The socket ids (empty when the room does not exist).
   */
  members(room: string): ReadonlySet<string>;
  /** Every room and its members. */
  readonly rooms: ReadonlyMap<string, ReadonlySet<string>>;
  /**
   * The sockets a target reaches, each once.
   *
   * @param target Rooms and exceptions.
   * @returns The socket ids.
   */
  targets(target: BroadcastTarget): Set<string>;
  /**
   * Delivers a packet to every socket the target reaches.
   *
   * @param packet The frame.
   * @param target Rooms and exceptions.
   * @returns How many sockets it reached, and how many of those dropped it or overflowed.
   */
  broadcast(packet: BroadcastPacket, target: BroadcastTarget): BroadcastResult;
}

/** What a broadcast did. */
export interface BroadcastResult {
  /** Sockets the frame was queued for over TCP. */
  sent: number;
  /** Sockets the frame was queued for in a datagram (`unreliable` and `sequenced` broadcasts). */
  sentUdp: number;
  /** Sockets it was not sent to because they have no UDP path and the fallback is `none`. */
  unavailable: number;
  /** Sockets whose full send queue dropped it (volatile broadcasts). */
  dropped: number;
  /** Sockets whose full send queue made them disconnect (other broadcasts). */
  overflowed: number;
}

/** Makes a namespace's adapter. */
export type AdapterFactory = (host: AdapterHost) => Adapter;
