/**
 * Watching a room like `tail -f`: a client that connects a namespace, joins a room and reports
 * everything that arrives. `deno task dump --connect` prints it.
 *
 * @module
 */

import {
  type ClientSocket,
  type ClientTlsOptions,
  type DisconnectReason,
  GameSocketClient,
  type JoinedRoom,
  type JsonValue,
  type Payload,
  SchemaMessage,
} from "../client.ts";
import type { Schema, SchemaRegistry } from "../protocol/mod.ts";
import { formatValue } from "./packet_format.ts";

/** Options of {@linkcode watchRoom}. */
export interface WatchRoomOptions {
  /** The server's host. */
  hostname: string;
  /** The server's port. */
  port: number;
  /**
   * The namespace to connect.
   *
   * @default {"/"}
   */
  namespace?: string;
  /**
   * The room to join; none when absent (then only what the server sends the socket arrives).
   *
   * @default {undefined}
   */
  room?: string;
  /**
   * The room's key, for a room that needs one.
   *
   * @default {undefined}
   */
  key?: string;
  /**
   * The player name to join as.
   *
   * @default {undefined}
   */
  player?: string;
  /**
   * The application's schemas (they must match the server's), so messages decode.
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

/** Something that arrived, with its time in seconds since the watch started. */
export type WatchEntry =
  | {
    readonly kind: "event";
    readonly time: number;
    readonly namespace: string;
    readonly event: string;
    readonly data: Payload;
    readonly room?: string;
    readonly sender?: string;
  }
  | {
    readonly kind: "message";
    readonly time: number;
    readonly namespace: string;
    readonly schema: Schema<object>;
    readonly value: object;
  }
  | (
    & {
      /** The watching socket joined a room (it asked, or the server put it there). */
      readonly kind: "room_joined";
      readonly time: number;
      readonly namespace: string;
    }
    & JoinedRoom
  )
  | {
    readonly kind: "room_left";
    readonly time: number;
    readonly namespace: string;
    readonly room: string;
  }
  | {
    readonly kind: "member_entered" | "member_left";
    readonly time: number;
    readonly namespace: string;
    readonly room: string;
    readonly socketId: string;
    readonly player?: string;
    readonly playerId: number;
  }
  | {
    /** Another socket moved in one step between two rooms the watching socket is in. */
    readonly kind: "member_moved";
    readonly time: number;
    readonly namespace: string;
    readonly from: string;
    readonly to: string;
    readonly socketId: string;
    readonly player?: string;
    /** Its player id in `to`. */
    readonly playerId: number;
  }
  | {
    readonly kind: "disconnect";
    readonly time: number;
    readonly namespace: string;
    readonly reason: DisconnectReason;
  };

/** A running watch. */
export interface RoomWatch extends AsyncDisposable {
  /** The watching socket. */
  readonly socket: ClientSocket;
  /** Resolves when the socket is disconnected, with the reason. */
  readonly closed: Promise<DisconnectReason>;
  /** Leaves and closes the connection. */
  close(): Promise<void>;
}

/**
 * Connects, joins a room, and reports every event, message, room change (with the room's members
 * on joining) and member change that arrives, until the connection ends or `close()`.
 *
 * @param options Where to connect, the namespace, the room (its key, the player name), the
 *   schemas.
 * @param onEntry Called for each thing that arrives.
 * @returns The running watch.
 * @throws {ConnectError} When the connect is refused.
 * @throws {JoinError} When the join is refused.
 */
export async function watchRoom(
  options: WatchRoomOptions,
  onEntry: (entry: WatchEntry) => void,
): Promise<RoomWatch> {
  const started = performance.now();
  const time = () => Math.round(performance.now() - started) / 1000;
  const namespace = options.namespace ?? "/";
  const client = new GameSocketClient({
    ...(options.schemas === undefined ? {} : { schemas: options.schemas }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
  });
  const auth = options.auth === undefined ? {} : { auth: options.auth };
  try {
    await client.connect(options.hostname, options.port, auth);
    const socket = namespace === "/" ? client.root! : client.of(namespace, auth);
    const closed = new Promise<DisconnectReason>((resolve) => {
      socket.on("disconnect", (reason) => {
        onEntry({ kind: "disconnect", time: time(), namespace, reason });
        resolve(reason);
      });
    });
    socket.onAny((event, data, info) => {
      onEntry({
        kind: "event",
        time: time(),
        namespace,
        event,
        data,
        ...(info.room === undefined ? {} : { room: info.room }),
        ...(info.sender === undefined ? {} : { sender: info.sender }),
      });
    });
    for (const schema of options.schemas ?? []) {
      socket.onMessage(schema, (value) => {
        onEntry({ kind: "message", time: time(), namespace, schema, value });
      });
    }
    socket.on("room_joined", (_room, joined) => {
      onEntry({ kind: "room_joined", time: time(), namespace, ...joined });
    });
    socket.on("room_left", (room) => onEntry({ kind: "room_left", time: time(), namespace, room }));
    for (const kind of ["member_entered", "member_left"] as const) {
      socket.on(kind, (member) => onEntry({ kind, time: time(), namespace, ...member }));
    }
    socket.on("member_moved", (member) => {
      onEntry({ kind: "member_moved", time: time(), namespace, ...member });
    });
    await socket.ready;
    if (options.room !== undefined) {
      const { key, player } = options;
      await socket.join(options.room, {
        ...(key === undefined ? {} : { key }),
        ...(player === undefined ? {} : { player }),
      });
    }
    const close = () => client.close();
    return { socket, closed, close, [Symbol.asyncDispose]: close };
  } catch (error) {
    await client.close();
    throw error;
  }
}

/**
 * Formats a watch entry as one line: `1.250 /home lobby hello from nB4N…: "hello all"`.
 *
 * @param entry The entry.
 * @returns The line.
 *
 * @example
 * ```ts
 * import { formatWatchEntry } from "@game-socket/game-socket/inspect";
 * import assert from "node:assert/strict";
 *
 * const line = formatWatchEntry({
 *   kind: "event",
 *   time: 1.25,
 *   namespace: "/home",
 *   event: "hello",
 *   data: "hello all",
 *   room: "lobby",
 *   sender: "nB4NL0eoS26NOl97LE5qgA",
 * });
 * assert.equal(line, '1.250 /home lobby hello from nB4NL0eoS26NOl97LE5qgA: "hello all"');
 * ```
 */
export function formatWatchEntry(entry: WatchEntry): string {
  const head = `${entry.time.toFixed(3)} ${entry.namespace}`;
  switch (entry.kind) {
    case "event": {
      const room = entry.room === undefined ? "" : ` ${entry.room}`;
      const sender = entry.sender === undefined ? "" : ` from ${entry.sender}`;
      return `${head}${room} ${entry.event}${sender}: ${formatPayload(entry.data)}`;
    }
    case "message":
      return `${head} ${entry.schema.name} ${
        formatValue(entry.schema, entry.value as Record<string, unknown>)
      }`;
    case "room_joined": {
      const as = entry.player === undefined
        ? `#${entry.playerId}`
        : `${entry.player} #${entry.playerId}`;
      const count = entry.capacity === undefined
        ? `${entry.memberCount} member${entry.memberCount === 1 ? "" : "s"}`
        : `${entry.memberCount}/${entry.capacity} members`;
      const shown = entry.members.slice(0, MEMBERS_SHOWN).map(formatMember);
      const more = entry.memberCount - shown.length;
      if (more > 0) shown.push(`and ${more} more`);
      const metadata = Object.keys(entry.metadata).length === 0
        ? ""
        : `; metadata ${JSON.stringify(entry.metadata)}`;
      return `${head} joined ${entry.room} as ${as}, ${count}: ${shown.join(", ")}${metadata}`;
    }
    case "room_left":
      return `${head} left ${entry.room}`;
    case "member_entered":
    case "member_left": {
      const verb = entry.kind === "member_entered" ? "entered" : "left";
      return `${head} ${entry.room}: ${formatMember(entry)} ${verb}`;
    }
    case "member_moved":
      return `${head} ${entry.to}: ${formatMember(entry)} moved from ${entry.from}`;
    case "disconnect":
      return `${head} disconnected: ${entry.reason}`;
  }
}

/**
 * A watch entry as a JSON-able object: payload bytes as hex, messages by schema name.
 *
 * @param entry The entry.
 * @returns The object.
 */
export function watchEntryToJson(entry: WatchEntry): Record<string, unknown> {
  switch (entry.kind) {
    case "event":
      return { ...entry, data: jsonPayload(entry.data) };
    case "message":
      return {
        kind: entry.kind,
        time: entry.time,
        namespace: entry.namespace,
        schema: entry.schema.name,
        value: entry.value,
      };
    default:
      return { ...entry };
  }
}

/** Members a `joined` line names; the rest are counted. */
const MEMBERS_SHOWN = 20;

/** `nB4N… ann #2`: the socket id, then the player name (if any) and id. */
function formatMember(member: { socketId: string; player?: string; playerId: number }): string {
  const player = member.player === undefined ? "" : ` ${member.player}`;
  return `${member.socketId}${player} #${member.playerId}`;
}

function formatPayload(data: Payload): string {
  if (data === undefined) return "(no payload)";
  if (data instanceof Uint8Array) return `${data.length} bytes: ${hex(data)}`;
  if (data instanceof SchemaMessage) {
    return `${data.schema.name} ${formatValue(data.schema, data.value as Record<string, unknown>)}`;
  }
  return JSON.stringify(data);
}

function jsonPayload(data: Payload): unknown {
  if (data instanceof Uint8Array) return { bytes: hex(data) };
  if (data instanceof SchemaMessage) return { schema: data.schema.name, value: data.value };
  return data ?? null;
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}
