/**
 * What both sides know of rooms: listings, filters and pages, and the JSON metadata they carry.
 *
 * @module
 */

import type { JsonValue } from "./payload.ts";

/** A room's metadata: a small JSON object anyone who may list the room can read. */
export type RoomMetadata = { readonly [key: string]: JsonValue };

/** A member of a room: its socket, player name and player id. */
export interface RoomMember {
  /** The room. */
  readonly room: string;
  /** The member's socket id. */
  readonly socketId: string;
  /** Its player name, if it has one: what the client asked for, or what the join hook set. */
  readonly player?: string;
  /**
   * Its player id in the room: a small number, unique among the members, given lowest first from
   * 1, and given again once its member has left.
   */
  readonly playerId: number;
}

/** A room as a listing shows it. */
export interface RoomInfo {
  /** The room's name. */
  readonly name: string;
  /** How many members it has. */
  readonly members: number;
  /** The most members at once; absent for no limit. */
  readonly capacity?: number;
  /** Its metadata. */
  readonly metadata: RoomMetadata;
  /** Whether joining needs a key. */
  readonly locked: boolean;
}

/** Which rooms a listing shows, and which page. Hidden rooms never appear. */
export interface RoomFilter {
  /** Only rooms whose name starts with this. */
  prefix?: string;
  /** Only rooms with a free seat. @default {false} */
  available?: boolean;
  /** Only rooms whose metadata has each of these entries (strings, numbers, booleans, null). */
  metadata?: { readonly [key: string]: string | number | boolean | null };
  /** The page after this name: the `next` of the page before. @default {the first page} */
  after?: string;
  /**
   * The most rooms on the page (1..100); a page also ends before 32 KiB of listings.
   *
   * @default {50}
   */
  limit?: number;
}

/** A page of rooms, in name order. */
export interface RoomPage {
  /** The rooms. */
  readonly rooms: RoomInfo[];
  /**
   * The `after` of the next page, when there may be more rooms (a page that ends on its `limit`
   * or byte budget has one, even if no room after it passes the filter).
   */
  readonly next?: string;
}

/** The most rooms on one page. */
export const MAX_PAGE_SIZE = 100;
/** Rooms on a page when the filter does not say. */
export const DEFAULT_PAGE_SIZE = 50;
/**
 * The most bytes of entries in one list (a page of rooms, a room's members), so that a list fits
 * in a frame of the default 64 KiB with room to spare.
 */
export const LIST_BUDGET = 32 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Encodes metadata as JSON text in UTF-8.
 *
 * @param metadata The metadata.
 * @returns Its bytes.
 */
export function encodeMetadata(metadata: RoomMetadata): Uint8Array {
  return encoder.encode(JSON.stringify(metadata));
}

/**
 * Decodes metadata a peer sent.
 *
 * @param bytes JSON text in UTF-8.
 * @returns The object, or `undefined` when the bytes are not JSON of an object.
 */
export function decodeMetadata(bytes: Uint8Array | undefined): RoomMetadata | undefined {
  if (bytes === undefined) return {};
  try {
    const value = JSON.parse(decoder.decode(bytes)) as unknown;
    return isObject(value) ? value as RoomMetadata : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a value is a plain JSON object (not an array, not null).
 *
 * @param value The value.
 * @returns Whether it is.
 */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Whether a room passes a filter's conditions (its paging aside).
 *
 * @param room The room.
 * @param filter The filter.
 * @returns Whether it is shown.
 */
export function matchesFilter(room: RoomInfo, filter: RoomFilter): boolean {
  if (filter.prefix !== undefined && !room.name.startsWith(filter.prefix)) return false;
  if (filter.available && room.capacity !== undefined && room.members >= room.capacity) {
    return false;
  }
  if (filter.metadata !== undefined) {
    for (const [key, value] of Object.entries(filter.metadata)) {
      if (room.metadata[key] !== value) return false;
    }
  }
  return true;
}

/**
 * Checks a filter's page size.
 *
 * @param limit The filter's `limit`.
 * @returns The page size.
 * @throws {RangeError} When not an integer in 1..100.
 */
export function pageSize(limit: number | undefined): number {
  const size = limit ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new RangeError(`A page holds 1..${MAX_PAGE_SIZE} rooms, got ${size}`);
  }
  return size;
}
