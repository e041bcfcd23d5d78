/**
 * game-socket: real-time multiplayer networking for Deno games. A compact schema-based binary
 * protocol over TCP, with namespaces multiplexed on one connection and rooms inside them.
 *
 * This entry point re-exports the protocol. The server (`./server`) and client (`./client`)
 * build on it.
 *
 * @example
 * ```ts
 * import { defineSchema, encodeFrame } from "@game-socket/game-socket";
 *
 * const Move = defineSchema({
 *   name: "Move",
 *   code: 1,
 *   version: 0,
 *   fields: { dx: { id: 0, type: "int8" }, dy: { id: 1, type: "int8" } },
 * });
 * const frame: Uint8Array = encodeFrame(Move, { dx: 1, dy: -1 });
 * ```
 *
 * @module
 */

export * from "./protocol/mod.ts";
