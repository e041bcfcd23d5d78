/**
 * The game server: `GameSocketServer` listens on TCP (or TLS), with namespaces multiplexed on
 * each connection, rooms inside namespaces, typed events with acknowledgements, heartbeats and
 * backpressure. The options, events and reasons are documented in README.md.
 *
 * @example
 * ```ts
 * import { GameSocketServer } from "@game-socket/game-socket/server";
 *
 * const server = new GameSocketServer({ hostname: "127.0.0.1", port: 0 });
 * server.of("/home").on("connection", (socket) => socket.join("lobby"));
 * const { port } = await server.listen();
 * await server.close();
 * ```
 *
 * @module
 */

export type {
  Adapter,
  AdapterFactory,
  AdapterHost,
  BroadcastPacket,
  BroadcastResult,
  BroadcastTarget,
} from "./server/adapter.ts";
export {
  type AckResult,
  type BroadcastAckOptions,
  BroadcastOperator,
  type BroadcastOptions,
} from "./server/broadcast_operator.ts";
export {
  type ConnectionClosedInfo,
  GameSocketServer,
  type GameSocketServerEvents,
  type NamespacePattern,
  type UdpBoundInfo,
} from "./server/game_socket_server.ts";
export { InMemoryAdapter } from "./server/in_memory_adapter.ts";
export {
  type CreateHook,
  type CreateRequest,
  type JoinHook,
  type JoinRequest,
  type JoinVerdict,
  Namespace,
  type NamespaceEvents,
  type NamespaceOptions,
} from "./server/namespace.ts";
export type { Middleware, MiddlewareContext } from "./server/middleware.ts";
export type {
  AckValue,
  RoomCreateValue,
  RoomJoinValue,
  RoomListRequestValue,
} from "./server/frame_values.ts";
export { Room, type RoomOptions, type RoomUpdate } from "./server/room.ts";
export {
  DEFAULT_ROOM_POLICY,
  type ResolvedRoomPolicy,
  type RoomCreation,
  type RoomPolicyOptions,
} from "./server/room_policy.ts";
export type { RoomEvents } from "./server/rooms.ts";
export type { ServerStats } from "./server/server_core.ts";
export type { ServerUdpStats } from "./server/server_udp.ts";
export {
  DEFAULT_PORT,
  type GameSocketServerOptions,
  type RateLimitOptions,
  type RateLimitPolicy,
  type RecoveryOptions,
  type ResolvedRateLimit,
  type ResolvedRecoveryOptions,
  type ResolvedServerOptions,
  type ResolvedUdpOptions,
  type TlsOptions,
  type UdpServerOptions,
} from "./server/server_options.ts";
export {
  type ServerJoinOptions,
  ServerSocket,
  type ServerSocketEvents,
  type SocketHandshake,
  type SocketStats,
} from "./server/server_socket.ts";
export * from "./session/mod.ts";
export type { SendStatus, TransportAddress, TransportStats } from "./transport/transport.ts";
