/**
 * The demo server of `deno task serve`: the original game_socket example, written with this
 * library. Namespaces "/" and "/home"; in "/home", `hello` events sent to a room the sender is
 * in are relayed to the whole room; one log line per connection, namespace connect, room
 * change and disconnect. "/lobby", a game lobby: players land in the room `hall`, create rooms
 * (with a capacity, a key, metadata), list and join them, and `chat` in them. Also "/bench", the
 * load tester's namespace.
 *
 * @module
 */

import { BENCH_NAMESPACE, BENCH_SCHEMAS, BenchUpdate } from "../load/bench_update.ts";
import {
  type Delivery,
  GameSocketServer,
  type GameSocketServerOptions,
  type Namespace,
  type Room,
  type RoomMember,
} from "../server.ts";

/** The namespace of the demo's game lobby. */
export const LOBBY_NAMESPACE = "/lobby";

/** The lobby's room every player lands in on connecting. */
export const LOBBY_HALL = "hall";

/** Options of {@linkcode createDemoServer}. */
export interface DemoServerOptions extends GameSocketServerOptions {
  /**
   * Where log lines go.
   *
   * @default {console.log}
   */
  log?: (line: string) => void;
}

/**
 * Makes the demo server (not listening yet).
 *
 * @param options Server options, and where to log.
 * @returns The server.
 */
export function createDemoServer(options: DemoServerOptions = {}): GameSocketServer {
  const { log = console.log, ...serverOptions } = options;
  const server = new GameSocketServer({ allowRaw: true, ...serverOptions });
  const home = server.of("/home");
  for (const nsp of [server.root, home]) logNamespace(nsp, log);
  home.on("connection", (socket) => {
    socket.on("hello", (message, { room }) => {
      if (room === undefined || !socket.rooms.has(room)) return;
      log(`/home: hello from ${socket.id} to ${room}: ${JSON.stringify(message)}`);
      home.to(room).emit("hello", message, { sender: socket.id });
    });
  });
  server.on("error", (error) => log(`error: ${error instanceof Error ? error.message : error}`));
  serveLobby(server, log);
  serveBench(server);
  return server;
}

/**
 * The game lobby: rooms exist only once created (by the server, or by a client's `createRoom`,
 * with a capacity, a key and metadata if it likes); every socket lands in `hall`, which the server
 * keeps for ever, and moves on from there (`join(room, { leave: "hall", key })`). A `chat` event
 * sent to a room the sender is in is relayed to the whole room, sender included.
 */
function serveLobby(server: GameSocketServer, log: (line: string) => void): void {
  const lobby = server.of(LOBBY_NAMESPACE, { rooms: { creation: "explicit" } });
  // Made before the log listens: `deno task serve`'s first line must be its "listening on".
  lobby.createRoom(LOBBY_HALL, { emptyTimeout: Infinity });
  logNamespace(lobby, log, true);
  lobby.on("room_full", (room) => log(`${lobby.name}: room full ${room.name}`));
  lobby.on("connection", (socket) => {
    socket.join(LOBBY_HALL);
    socket.on("chat", (message, { room }) => {
      if (room === undefined || !socket.rooms.has(room)) return;
      log(`${lobby.name}: chat from ${socket.id} to ${room}: ${JSON.stringify(message)}`);
      lobby.to(room).emit("chat", message, { sender: socket.id });
    });
  });
}

/**
 * How the bench relay forwards an update, by the delivery class it arrived with: what came over
 * UDP goes out over UDP, what came over TCP goes out as a plain reliable frame.
 */
const RELAY_OPTIONS: Readonly<Record<Delivery, { delivery: Delivery } | undefined>> = {
  reliable: undefined,
  unreliable: { delivery: "unreliable" },
  sequenced: { delivery: "sequenced" },
};

/**
 * The benchmark namespace of `deno task stress`: its sockets join the rooms they ask for, and
 * every update a socket sends (a BenchUpdate message frame, or an `update` event carrying one)
 * is broadcast to its whole room, sender included, in the form and with the delivery class it
 * came with. Nothing is logged per connection, so a load test measures the server rather than
 * its log.
 */
function serveBench(server: GameSocketServer): void {
  const bench = server.of(BENCH_NAMESPACE, { schemas: BENCH_SCHEMAS });
  bench.on("connection", (socket) => {
    socket.onMessage(BenchUpdate, (update, { delivery }) => {
      const options = RELAY_OPTIONS[delivery];
      for (const room of bench.adapter.socketRooms(socket.id)) {
        if (room !== socket.id) bench.to(room).send(BenchUpdate, update, options);
      }
    });
    socket.on("update", (update, { delivery }) => {
      const options = RELAY_OPTIONS[delivery ?? "reliable"];
      for (const room of bench.adapter.socketRooms(socket.id)) {
        if (room !== socket.id) bench.to(room).emit("update", update, options);
      }
    });
    // The server's counters, for the fanout benchmark's bytes on the wire.
    // A JSON snapshot: the counters (UDP ones included) as they are now.
    socket.on("stats", () => JSON.parse(JSON.stringify(server.stats)));
  });
}

/**
 * Logs a namespace's connections and room changes. With `players`, a member's player name and id
 * follow its socket id, and a created room's options its name (the lobby's rooms have them; the
 * other namespaces' lines stay as they were).
 */
function logNamespace(nsp: Namespace, log: (line: string) => void, players = false): void {
  const name = nsp.name;
  nsp.on("connection", (socket) => {
    const { hostname, port } = socket.handshake.address;
    log(
      name === "/"
        ? `/: connection ${socket.id} from ${hostname}:${port}`
        : `${name}: connect ${socket.id}`,
    );
    socket.on("disconnect", (reason) => log(`${name}: disconnect ${socket.id} (${reason})`));
    socket.on("raw", (data) => log(`${name}: raw ${data.length} bytes from ${socket.id}`));
  });
  const who = (member: RoomMember) => players ? describeMember(member) : member.socketId;
  nsp.on("room_created", (room) => {
    log(`${name}: room created ${room.name}${players ? describeRoom(room) : ""}`);
  });
  nsp.on("room_joined", (room, member) => log(`${name}: ${who(member)} joined ${room.name}`));
  nsp.on("room_left", (room, member) => log(`${name}: ${who(member)} left ${room.name}`));
  nsp.on("room_deleted", (room) => log(`${name}: room deleted ${room.name}`));
}

/** `nB4N… (ann #2)`: the socket, then the player's name and id. */
function describeMember(member: RoomMember): string {
  const player = member.player === undefined ? "" : `${member.player} `;
  return `${member.socketId} (${player}#${member.playerId})`;
}

/** ` by nB4N… (capacity 2, locked, hidden, kept 5000 ms)`: who made the room, and its options. */
function describeRoom(room: Room): string {
  const options = [
    ...(room.capacity === undefined ? [] : [`capacity ${room.capacity}`]),
    ...(room.locked ? ["locked"] : []),
    ...(room.hidden ? ["hidden"] : []),
    ...(room.emptyTimeout === 0 ? [] : [
      room.emptyTimeout === Infinity ? "kept for ever" : `kept ${room.emptyTimeout} ms`,
    ]),
    ...(Object.keys(room.metadata).length === 0 ? [] : [JSON.stringify(room.metadata)]),
  ];
  const by = room.createdBy === undefined ? "" : ` by ${room.createdBy}`;
  return `${by}${options.length === 0 ? "" : ` (${options.join(", ")})`}`;
}
