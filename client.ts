/**
 * The game client: `GameSocketClient` opens one TCP (or TLS) connection to a game server and
 * multiplexes namespace sockets on it, with rooms, typed events, acknowledgements and
 * heartbeats. The options and events are documented in README.md.
 *
 * @example
 * ```ts ignore
 * import { GameSocketClient } from "@game-socket/game-socket/client";
 *
 * const client = new GameSocketClient();
 * await client.connect("127.0.0.1", 3103);
 * const home = await client.of("/home").ready;
 * await home.join("lobby");
 * home.to("lobby").emit("hello", "hello all");
 * ```
 *
 * @module
 */

export {
  type ClientTlsOptions,
  type ClientUdpOptions,
  type GameSocketClientOptions,
  type OfflineQueueOptions,
  type ResolvedClientOptions,
  type ResolvedClientUdpOptions,
} from "./client/client_options.ts";
export type { ClientUdpStats, UdpState } from "./client/client_udp.ts";
export {
  ClientSocket,
  type ClientSocketEvents,
  type HandshakeInfo,
} from "./client/client_socket.ts";
export type {
  CreateRoomOptions,
  JoinedRoom,
  JoinOptions,
  MovedMember,
} from "./client/client_rooms.ts";
export type {
  ClientState,
  ConnectOptions,
  GameSocketClientEvents,
  NamespaceConnectOptions,
  PongInfo,
  ReconnectInfo,
} from "./client/client_events.ts";
export { GameSocketClient } from "./client/game_socket_client.ts";
export * from "./session/mod.ts";
export type { SendStatus, TransportStats } from "./transport/transport.ts";
