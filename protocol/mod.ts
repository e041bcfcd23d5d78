/**
 * The game-socket wire protocol: field types, schemas, the message codec, frames, the
 * incremental frame decoder and the built-in schemas of the socket and room layers.
 *
 * Pure code: no I/O, no timers, no `Deno.*`. It runs in a browser as it is. The byte layout is
 * specified in docs/PROTOCOL.md.
 *
 * @example Define a schema, encode a frame, decode it from a stream
 * ```ts
 * import {
 *   defineSchema,
 *   encodeFrame,
 *   FrameDecoder,
 *   SchemaRegistry,
 * } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const PlayerState = defineSchema({
 *   name: "PlayerState",
 *   code: 10,
 *   version: 0,
 *   fields: {
 *     id: { id: 0, type: "uint16" },
 *     x: { id: 1, type: "int16" },
 *     alive: { id: 2, type: "bool" },
 *   },
 * });
 * const bytes = encodeFrame(PlayerState, { id: 1, x: -4, alive: true }, { channel: 1 });
 * const decoder = new FrameDecoder({ schemas: new SchemaRegistry([PlayerState]) });
 * const [frame] = [...decoder.push(bytes)];
 * assert.ok(frame?.type === "message");
 * assert.deepEqual(frame.value, { id: 1, x: -4, alive: true });
 * ```
 *
 * @module
 */

export * from "./binary_reader.ts";
export * from "./binary_writer.ts";
export * from "./builtin_schemas.ts";
export * from "./bytes.ts";
export * from "./channel_table.ts";
export type { MessageCodec } from "./compiled_codec.ts";
export * from "./constants.ts";
export * from "./datagram.ts";
export * from "./error_codes.ts";
export * from "./errors.ts";
export * from "./field_types.ts";
export * from "./decode_frame.ts";
export * from "./encode_frame.ts";
export * from "./entry_list.ts";
export * from "./frame.ts";
export * from "./frame_decoder.ts";
export * from "./message_codec.ts";
export * from "./room_schemas.ts";
export * from "./schema.ts";
export * from "./schema_registry.ts";
export * from "./socket_schemas.ts";
