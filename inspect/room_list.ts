/**
 * Listing a namespace's rooms as a client: connect, ask for every page of the listing, close.
 * `deno task dump --connect --list` prints it.
 *
 * @module
 */

import {
  type ClientTlsOptions,
  GameSocketClient,
  type JsonValue,
  MAX_PAGE_SIZE,
  type RoomFilter,
  type RoomInfo,
} from "../client.ts";
import type { SchemaRegistry } from "../protocol/mod.ts";

/** Options of {@linkcode listAllRooms}. */
export interface ListAllRoomsOptions {
  /** The server's host. */
  hostname: string;
  /** The server's port. */
  port: number;
  /**
   * The namespace whose rooms to list.
   *
   * @default {"/"}
   */
  namespace?: string;
  /**
   * Only rooms whose name starts with this.
   *
   * @default {every room}
   */
  prefix?: string;
  /**
   * Only rooms with a free seat.
   *
   * @default {false}
   */
  available?: boolean;
  /**
   * Only rooms whose metadata has each of these entries.
   *
   * @default {undefined}
   */
  metadata?: RoomFilter["metadata"];
  /**
   * Rooms asked for per page (1..100).
   *
   * @default {100}
   */
  pageSize?: number;
  /**
   * The most pages to ask for: a listing that goes on past them fails, rather than running for
   * ever against a server whose pages do not end.
   *
   * @default {1000}
   */
  maxPages?: number;
  /**
   * Milliseconds to wait for each page.
   *
   * @default {10000}
   */
  timeout?: number;
  /**
   * The namespace's schemas, when it has a set of its own (the connect needs their fingerprint).
   *
   * @default {no schemas}
   */
  schemas?: SchemaRegistry;
  /**
   * Credentials for the connect.
   *
   * @default {undefined}
   */
  auth?: JsonValue;
  /**
   * TLS, with the CAs to trust.
   *
   * @default {undefined: plain TCP}
   */
  tls?: ClientTlsOptions;
}

/** Pages asked for at most when {@linkcode ListAllRoomsOptions.maxPages} is not given. */
export const DEFAULT_MAX_PAGES = 1000;

/**
 * Connects a namespace, lists its rooms page after page (following each page's `next`) and
 * closes the connection. Hidden rooms never appear. The pages are asked for one after another,
 * not at one instant: a room created meanwhile before the page being read is missed, one deleted
 * meanwhile may still be listed.
 *
 * @param options Where to connect, the namespace, the filter, the bounds.
 * @returns Every listed room that passes the filter, in name order.
 * @throws {ConnectError} When the connect is refused (a middleware's `unauthorized`, an unknown
 *   namespace) or the server cannot be reached.
 * @throws {JoinError} (`timeout`) When a page does not come within `timeout`.
 * @throws {RangeError} When `pageSize` or `maxPages` is out of range, or the listing goes on past
 *   `maxPages` pages.
 *
 * @example
 * ```ts
 * import { GameSocketServer } from "@game-socket/game-socket/server";
 * import { listAllRooms } from "@game-socket/game-socket/inspect";
 * import assert from "node:assert/strict";
 *
 * const server = new GameSocketServer({ hostname: "127.0.0.1", port: 0 });
 * const lobby = server.of("/lobby", { rooms: { creation: "explicit" } });
 * lobby.createRoom("table-1", { capacity: 4, metadata: { game: "poker" }, emptyTimeout: 60_000 });
 * const { port } = await server.listen();
 * const rooms = await listAllRooms({ hostname: "127.0.0.1", port, namespace: "/lobby" });
 * assert.deepEqual(rooms, [
 *   { name: "table-1", members: 0, capacity: 4, metadata: { game: "poker" }, locked: false },
 * ]);
 * await server.close();
 * ```
 */
export async function listAllRooms(options: ListAllRoomsOptions): Promise<RoomInfo[]> {
  const namespace = options.namespace ?? "/";
  const limit = options.pageSize ?? MAX_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new RangeError(`pageSize must be an integer in 1..${MAX_PAGE_SIZE}, got ${limit}`);
  }
  const maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;
  if (!Number.isInteger(maxPages) || maxPages < 1) {
    throw new RangeError(`maxPages must be an integer from 1, got ${maxPages}`);
  }
  const filter: RoomFilter = {
    limit,
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    ...(options.available ? { available: true } : {}),
    ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
  };
  // One question, one answer: a dropped connection fails the listing instead of reconnecting.
  await using client = new GameSocketClient({
    reconnection: false,
    udp: false,
    ...(options.schemas === undefined ? {} : { schemas: options.schemas }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
  });
  const auth = options.auth === undefined ? {} : { auth: options.auth };
  await client.connect(options.hostname, options.port, auth);
  const socket = namespace === "/" ? client.root! : await client.of(namespace, auth).ready;
  const rooms: RoomInfo[] = [];
  let after: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const { rooms: found, next } = await socket.listRooms(
      after === undefined ? filter : { ...filter, after },
      options.timeout,
    );
    rooms.push(...found);
    // A `next` that does not move on would ask for the same page again: that is the end too.
    if (next === undefined || (after !== undefined && next <= after)) return rooms;
    after = next;
  }
  throw new RangeError(
    `The rooms of ${namespace} go on past ${maxPages} pages of ${limit}; narrow the listing ` +
      `with a prefix, or allow more pages`,
  );
}

/**
 * Formats rooms as aligned lines, one per room: its name, `members/capacity` (just the member
 * count when it has no capacity), `locked` or `open`, and its metadata as JSON.
 *
 * @param rooms The rooms.
 * @returns One line per room.
 *
 * @example
 * ```ts
 * import { formatRoomList } from "@game-socket/game-socket/inspect";
 * import assert from "node:assert/strict";
 *
 * const lines = formatRoomList([
 *   { name: "duel", members: 1, capacity: 2, metadata: { map: "dust" }, locked: true },
 *   { name: "hall", members: 12, metadata: {}, locked: false },
 * ]);
 * assert.deepEqual(lines, [
 *   'duel  1/2 members  locked  {"map":"dust"}',
 *   "hall  12 members   open    {}",
 * ]);
 * ```
 */
export function formatRoomList(rooms: readonly RoomInfo[]): string[] {
  const counts = rooms.map((room) =>
    room.capacity === undefined
      ? `${room.members} member${room.members === 1 ? "" : "s"}`
      : `${room.members}/${room.capacity} members`
  );
  const nameWidth = Math.max(0, ...rooms.map((room) => room.name.length));
  const countWidth = Math.max(0, ...counts.map((count) => count.length));
  return rooms.map((room, i) =>
    [
      room.name.padEnd(nameWidth),
      counts[i]!.padEnd(countWidth),
      (room.locked ? "locked" : "open").padEnd(6),
      JSON.stringify(room.metadata),
    ].join("  ")
  );
}
