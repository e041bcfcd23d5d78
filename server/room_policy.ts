/**
 * The rooms policy of a namespace (the `rooms` option of the server and of `server.of`): how rooms
 * come into being, and the limits on what clients may ask of them.
 *
 * @module
 */

import { checkInteger } from "../session/check_option.ts";
import { encodeMetadata, isObject } from "../session/room_listing.ts";
import type { RoomOptions, RoomUpdate } from "./room.ts";

/** How a room that does not exist comes into being. */
export type RoomCreation = "join" | "explicit";

/** The `rooms` option: how rooms are created, and the limits on clients' room requests. */
export interface RoomPolicyOptions {
  /**
   * `join`: joining a room that does not exist creates it (with default options: no capacity,
   * no key, listed, deleted when it empties). `explicit`: such a join is refused with
   * `not_found`; rooms are made by `createRoom`, on the server or a client. The server's own
   * `socket.join` creates rooms either way.
   *
   * @default {"join"}
   */
  creation?: RoomCreation;
  /**
   * The most rooms one socket's requests have created that still exist. One more is refused
   * (`JoinError` `limit_exceeded`, limit `rooms_created`).
   *
   * @default {16}
   */
  maxCreatedPerSocket?: number;
  /**
   * The most rooms in the namespace (sockets' own rooms not counted). A client's request that
   * would create one more is refused (`limit_exceeded`, limit `namespace_rooms`); the server's own
   * calls are not limited.
   *
   * @default {10000}
   */
  maxRooms?: number;
  /**
   * The largest capacity a client may ask for. Capacities of 0 or above it are refused
   * (`invalid`).
   *
   * @default {1000}
   */
  maxCapacity?: number;
  /**
   * The largest metadata, in bytes of JSON text, on the server and from clients (`invalid`
   * above it). Metadata travels in every listing of its room.
   *
   * @default {1024}
   */
  maxMetadataSize?: number;
  /**
   * The longest grace period (`emptyTimeout`, in milliseconds) a client may ask for (`invalid`
   * above it). The server's own rooms may be kept any time, or for ever.
   *
   * @default {600000}
   */
  maxEmptyTimeout?: number;
  /**
   * The longest room name a client may use, in UTF-8 bytes (`invalid` above it).
   *
   * @default {64}
   */
  maxNameLength?: number;
  /**
   * The longest player name, in UTF-8 bytes (`invalid` above it).
   *
   * @default {32}
   */
  maxPlayerLength?: number;
  /**
   * Milliseconds over which changes to listed rooms are gathered before sockets that watch the
   * listing are told: a room whose member count changes ten times in that time is sent once.
   *
   * @default {100}
   */
  listingInterval?: number;
}

/** The rooms policy with every default filled in. */
export type ResolvedRoomPolicy = Readonly<Required<RoomPolicyOptions>>;

/**
 * Fills in defaults and checks ranges, over a base policy (the server's, for a namespace).
 *
 * @param options What the caller gave.
 * @param base The policy to start from.
 * @param prefix The option's name, for messages.
 * @returns The policy.
 * @throws {RangeError} When a value is out of range.
 */
export function resolveRoomPolicy(
  options: RoomPolicyOptions | undefined,
  base: ResolvedRoomPolicy = DEFAULT_ROOM_POLICY,
  prefix = "rooms",
): ResolvedRoomPolicy {
  if (options === undefined) return base;
  const creation = options.creation ?? base.creation;
  if (creation !== "join" && creation !== "explicit") {
    throw new RangeError(
      `${prefix}.creation must be "join" or "explicit", got ${String(creation)}`,
    );
  }
  const integer = (name: keyof RoomPolicyOptions, min: number, max?: number) =>
    checkInteger(
      `${prefix}.${name}`,
      (options[name] as number | undefined) ?? base[name] as number,
      min,
      max,
    );
  return {
    creation,
    maxCreatedPerSocket: integer("maxCreatedPerSocket", 0),
    maxRooms: integer("maxRooms", 0),
    maxCapacity: integer("maxCapacity", 1),
    maxMetadataSize: integer("maxMetadataSize", 2, 16 * 1024),
    maxEmptyTimeout: integer("maxEmptyTimeout", 0),
    maxNameLength: integer("maxNameLength", 1, 1024),
    maxPlayerLength: integer("maxPlayerLength", 1, 1024),
    listingInterval: integer("listingInterval", 0, 60_000),
  };
}

/** The defaults. */
export const DEFAULT_ROOM_POLICY: ResolvedRoomPolicy = {
  creation: "join",
  maxCreatedPerSocket: 16,
  maxRooms: 10_000,
  maxCapacity: 1000,
  maxMetadataSize: 1024,
  maxEmptyTimeout: 600_000,
  maxNameLength: 64,
  maxPlayerLength: 32,
  listingInterval: 100,
};

/** The longest key a client may set, in UTF-8 bytes. */
export const MAX_KEY_LENGTH = 256;

const encoder = new TextEncoder();

/**
 * What is wrong with a room's options, if anything.
 *
 * @param options The options (or changes to them).
 * @param policy The namespace's policy.
 * @param client Whether a client asked (its limits are narrower than the server's).
 * @returns A sentence saying what is wrong, or `undefined`.
 */
export function roomOptionsProblem(
  options: RoomOptions | RoomUpdate,
  policy: ResolvedRoomPolicy,
  client: boolean,
): string | undefined {
  const { capacity, metadata, emptyTimeout, key } = options;
  if (capacity !== undefined && capacity !== null) {
    const max = client ? policy.maxCapacity : 0xffff_ffff;
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > max) {
      return `A room's capacity must be an integer in 1..${max}, got ${capacity}`;
    }
  }
  if (metadata !== undefined) {
    if (!isObject(metadata)) return "A room's metadata must be a JSON object";
    let size: number;
    try {
      size = encodeMetadata(metadata).length;
    } catch {
      return "A room's metadata must be a JSON object";
    }
    if (size > policy.maxMetadataSize) {
      return `A room's metadata may take ${policy.maxMetadataSize} bytes of JSON, got ${size}`;
    }
  }
  if (emptyTimeout !== undefined) {
    const max = client ? policy.maxEmptyTimeout : Infinity;
    const valid = (Number.isInteger(emptyTimeout) || emptyTimeout === Infinity) &&
      emptyTimeout >= 0 && emptyTimeout <= max;
    if (!valid) return `A room's emptyTimeout must be 0..${max} ms, got ${emptyTimeout}`;
  }
  if (client && typeof key === "string" && encoder.encode(key).length > MAX_KEY_LENGTH) {
    return `A room's key may take ${MAX_KEY_LENGTH} bytes`;
  }
  return undefined;
}

/**
 * What is wrong with a room or player name, if anything.
 *
 * @param kind `room` or `player`, for the message.
 * @param name The name.
 * @param max The most UTF-8 bytes.
 * @returns A sentence saying what is wrong, or `undefined`.
 */
export function nameProblem(kind: string, name: string, max: number): string | undefined {
  if (name.length === 0) return `A ${kind} name cannot be empty`;
  const size = name.length <= max / 3 ? name.length : encoder.encode(name).length;
  return size > max ? `A ${kind} name may take ${max} bytes of UTF-8, got ${size}` : undefined;
}
