/**
 * game-socket: real-time multiplayer networking for Deno games. A compact schema-based binary
 * protocol over TCP, with namespaces multiplexed on one connection and rooms inside them.
 *
 * This entry point exports everything: the protocol (also at `./protocol`), the server (also at
 * `./server`) and the client (also at `./client`).
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
export * from "./server.ts";
export * from "./client.ts";
