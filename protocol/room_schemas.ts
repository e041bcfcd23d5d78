/**
 * Built-in schemas of the room layer: join, leave, create, delete, membership and room events.
 * They travel in control frames on a namespace's channel; codes and fields are in
 * docs/PROTOCOL.md.
 *
 * @module
 */

import { defineSchema, type FieldDefinitions, type Schema, type SchemaValue } from "./schema.ts";

/** Fields of {@linkcode RoomJoin}. */
export const roomJoinFields = {
  room: { id: 0, type: "string" },
  leave: { id: 1, type: "string", optional: true },
  key: { id: 2, type: "string", optional: true },
  player: { id: 3, type: "string", optional: true },
  requestId: { id: 4, type: "varuint", optional: true },
} as const satisfies FieldDefinitions;

/** Client → server: join `room`, leaving `leave` in the same step, with a key and a player name. */
export const RoomJoin: Schema<SchemaValue<typeof roomJoinFields>> = defineSchema({
  name: "RoomJoin",
  code: 16,
  version: 0,
  fields: roomJoinFields,
});

/** Fields of {@linkcode RoomJoinError}. */
export const roomJoinErrorFields = {
  room: { id: 0, type: "string" },
  code: { id: 1, type: "varuint" },
  message: { id: 2, type: "string", optional: true },
  requestId: { id: 3, type: "varuint", optional: true },
  limit: { id: 4, type: "string", optional: true },
} as const satisfies FieldDefinitions;

/**
 * Server → client: a join or create was refused, with a code from `ErrorCode` (and, for code 12,
 * the `limit` crossed).
 */
export const RoomJoinError: Schema<SchemaValue<typeof roomJoinErrorFields>> = defineSchema({
  name: "RoomJoinError",
  code: 17,
  version: 0,
  fields: roomJoinErrorFields,
});

/** Fields of {@linkcode RoomLeave}, {@linkcode RoomDelete}, {@linkcode RoomJoined} and {@linkcode RoomLeft}. */
export const roomNameFields = {
  room: { id: 0, type: "string" },
} as const satisfies FieldDefinitions;

/** Client → server: leave `room`. */
export const RoomLeave: Schema<SchemaValue<typeof roomNameFields>> = defineSchema({
  name: "RoomLeave",
  code: 18,
  version: 0,
  fields: roomNameFields,
});

/** Fields of {@linkcode RoomCreate}. */
export const roomCreateFields = {
  room: { id: 0, type: "string" },
  key: { id: 1, type: "string", optional: true },
  capacity: { id: 2, type: "varuint", optional: true },
  metadata: { id: 3, type: "bytes", optional: true },
  requestId: { id: 4, type: "varuint", optional: true },
  hidden: { id: 5, type: "bool", optional: true },
  join: { id: 6, type: "bool", optional: true },
  emptyTimeout: { id: 7, type: "varuint", optional: true },
  player: { id: 8, type: "string", optional: true },
  leave: { id: 9, type: "string", optional: true },
} as const satisfies FieldDefinitions;

/**
 * Client → server: create `room` with an optional key, capacity, metadata (JSON text as UTF-8),
 * visibility and grace period when empty; with `join`, the creator joins it as `player`, leaving
 * `leave` in the same step.
 */
export const RoomCreate: Schema<SchemaValue<typeof roomCreateFields>> = defineSchema({
  name: "RoomCreate",
  code: 19,
  version: 0,
  fields: roomCreateFields,
});

/** Either way: `room` is deleted (asked by its owner, or told by the server). */
export const RoomDelete: Schema<SchemaValue<typeof roomNameFields>> = defineSchema({
  name: "RoomDelete",
  code: 20,
  version: 0,
  fields: roomNameFields,
});

/** Fields of {@linkcode RoomJoined}. */
export const roomJoinedFields = {
  room: { id: 0, type: "string" },
  left: { id: 1, type: "string", optional: true },
  playerId: { id: 2, type: "varuint", optional: true },
  player: { id: 3, type: "string", optional: true },
  members: { id: 4, type: "bytes", optional: true },
  memberCount: { id: 5, type: "varuint", optional: true },
  capacity: { id: 6, type: "varuint", optional: true },
  metadata: { id: 7, type: "bytes", optional: true },
  requestId: { id: 8, type: "varuint", optional: true },
} as const satisfies FieldDefinitions;

/**
 * Server → client: this socket is now in `room` (having left `left` in the same step), as player
 * `playerId`; `members` lists the room's members ({@linkcode RoomMemberEntry} bodies, itself
 * included, up to what fits), `memberCount` counts them all.
 */
export const RoomJoined: Schema<SchemaValue<typeof roomJoinedFields>> = defineSchema({
  name: "RoomJoined",
  code: 21,
  version: 0,
  fields: roomJoinedFields,
});

/** Server → client: this socket is no longer in `room`. */
export const RoomLeft: Schema<SchemaValue<typeof roomNameFields>> = defineSchema({
  name: "RoomLeft",
  code: 22,
  version: 0,
  fields: roomNameFields,
});

/** Fields of {@linkcode MemberEntered} and {@linkcode MemberLeft}. */
export const memberFields = {
  room: { id: 0, type: "string" },
  socketId: { id: 1, type: "string" },
  player: { id: 2, type: "string", optional: true },
  playerId: { id: 3, type: "varuint", optional: true },
} as const satisfies FieldDefinitions;

/** Server → client: another socket entered `room`. */
export const MemberEntered: Schema<SchemaValue<typeof memberFields>> = defineSchema({
  name: "MemberEntered",
  code: 23,
  version: 0,
  fields: memberFields,
});

/** Server → client: another socket left `room`. */
export const MemberLeft: Schema<SchemaValue<typeof memberFields>> = defineSchema({
  name: "MemberLeft",
  code: 24,
  version: 0,
  fields: memberFields,
});

/** Fields of {@linkcode RoomEvent}. */
export const roomEventFields = {
  room: { id: 0, type: "string" },
  event: { id: 1, type: "varuint" },
  payloadType: { id: 2, type: "uint8" },
  payload: { id: 3, type: "bytes", optional: true },
  sender: { id: 4, type: "string", optional: true },
} as const satisfies FieldDefinitions;

/**
 * Either way: event `event` (an id declared by `EventName`) sent to `room`. From the server,
 * `sender` names the socket it came from.
 */
export const RoomEvent: Schema<SchemaValue<typeof roomEventFields>> = defineSchema({
  name: "RoomEvent",
  code: 25,
  version: 0,
  fields: roomEventFields,
});

/** Fields of {@linkcode MemberMoved}. */
export const memberMovedFields = {
  from: { id: 0, type: "string" },
  to: { id: 1, type: "string" },
  socketId: { id: 2, type: "string" },
  player: { id: 3, type: "string", optional: true },
  playerId: { id: 4, type: "varuint", optional: true },
} as const satisfies FieldDefinitions;

/**
 * Server → client: another socket moved from `from` to `to` in one step, told to members of both
 * rooms (members of only one get `MemberLeft` or `MemberEntered`). `playerId` is its id in `to`.
 */
export const MemberMoved: Schema<SchemaValue<typeof memberMovedFields>> = defineSchema({
  name: "MemberMoved",
  code: 26,
  version: 0,
  fields: memberMovedFields,
});

/** Fields of {@linkcode RoomCreated}. */
export const roomCreatedFields = {
  room: { id: 0, type: "string" },
  requestId: { id: 1, type: "varuint", optional: true },
} as const satisfies FieldDefinitions;

/** Server → client: the room a `RoomCreate` without `join` asked for exists now. */
export const RoomCreated: Schema<SchemaValue<typeof roomCreatedFields>> = defineSchema({
  name: "RoomCreated",
  code: 27,
  version: 0,
  fields: roomCreatedFields,
});

/** Fields of {@linkcode RoomListRequest}. */
export const roomListRequestFields = {
  requestId: { id: 0, type: "varuint" },
  after: { id: 1, type: "string", optional: true },
  limit: { id: 2, type: "varuint", optional: true },
  prefix: { id: 3, type: "string", optional: true },
  available: { id: 4, type: "bool", optional: true },
  metadata: { id: 5, type: "bytes", optional: true },
} as const satisfies FieldDefinitions;

/**
 * Client → server: a page of the namespace's listed rooms, in name order after `after`, at most
 * `limit`; only names starting with `prefix`, only rooms with a free seat (`available`), only rooms
 * whose metadata has the entries of `metadata` (a JSON object as UTF-8).
 */
export const RoomListRequest: Schema<SchemaValue<typeof roomListRequestFields>> = defineSchema({
  name: "RoomListRequest",
  code: 28,
  version: 0,
  fields: roomListRequestFields,
});

/** Fields of {@linkcode RoomList}. */
export const roomListFields = {
  requestId: { id: 0, type: "varuint" },
  rooms: { id: 1, type: "bytes" },
  next: { id: 2, type: "string", optional: true },
} as const satisfies FieldDefinitions;

/**
 * Server → client: the answer to a `RoomListRequest`: {@linkcode RoomListing} bodies, and `next`
 * (the `after` of the next page) when there are more.
 */
export const RoomList: Schema<SchemaValue<typeof roomListFields>> = defineSchema({
  name: "RoomList",
  code: 29,
  version: 0,
  fields: roomListFields,
});

/** Fields of {@linkcode RoomWatch}. */
export const roomWatchFields = {
  watch: { id: 0, type: "bool" },
} as const satisfies FieldDefinitions;

/** Client → server: send (or stop sending) a `RoomListing` whenever a listed room changes. */
export const RoomWatch: Schema<SchemaValue<typeof roomWatchFields>> = defineSchema({
  name: "RoomWatch",
  code: 30,
  version: 0,
  fields: roomWatchFields,
});

/** Fields of {@linkcode RoomListing}. */
export const roomListingFields = {
  room: { id: 0, type: "string" },
  members: { id: 1, type: "varuint" },
  capacity: { id: 2, type: "varuint", optional: true },
  metadata: { id: 3, type: "bytes", optional: true },
  locked: { id: 4, type: "bool", optional: true },
  removed: { id: 5, type: "bool", optional: true },
} as const satisfies FieldDefinitions;

/**
 * A listed room: its member count, capacity, metadata and whether joining needs a key. An entry of
 * `RoomList`, and, server → client, a change for a socket that watches (`removed`: deleted or
 * hidden).
 */
export const RoomListing: Schema<SchemaValue<typeof roomListingFields>> = defineSchema({
  name: "RoomListing",
  code: 31,
  version: 0,
  fields: roomListingFields,
});

/** Fields of {@linkcode RoomMemberEntry}. */
export const roomMemberEntryFields = {
  socketId: { id: 0, type: "string" },
  player: { id: 1, type: "string", optional: true },
  playerId: { id: 2, type: "varuint", optional: true },
} as const satisfies FieldDefinitions;

/** A member of a room, as an entry of `RoomJoined.members`; never a frame of its own. */
export const RoomMemberEntry: Schema<SchemaValue<typeof roomMemberEntryFields>> = defineSchema({
  name: "RoomMemberEntry",
  code: 32,
  version: 0,
  fields: roomMemberEntryFields,
});
