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
} as const satisfies FieldDefinitions;

/** Server → client: a join or create was refused, with a code from `ErrorCode`. */
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
} as const satisfies FieldDefinitions;

/** Client → server: create `room` (and join it) with an optional key, capacity and metadata. */
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

/** Server → client: this socket is now in `room`. */
export const RoomJoined: Schema<SchemaValue<typeof roomNameFields>> = defineSchema({
  name: "RoomJoined",
  code: 21,
  version: 0,
  fields: roomNameFields,
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
