/**
 * The demo server of `deno task serve`: the original game_socket example, written with this
 * library. Namespaces "/" and "/home"; in "/home", `hello` events sent to a room the sender is
 * in are relayed to the whole room; one log line per connection, namespace connect, room
 * change and disconnect. Also "/bench", the load tester's namespace.
 *
 * @module
 */

import { BENCH_NAMESPACE, BENCH_SCHEMAS, BenchUpdate } from "../load/bench_update.ts";
import {
  type Delivery,
  GameSocketServer,
  type GameSocketServerOptions,
  type Namespace,
} from "../server.ts";

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
  serveBench(server);
  return server;
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

function logNamespace(nsp: Namespace, log: (line: string) => void): void {
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
  // Every socket's own room comes and goes with it: not worth a line of its own.
  const shared = (room: string) => !nsp.sockets.has(room);
  nsp.on("room_created", (room) => shared(room) && log(`${name}: room created ${room}`));
  nsp.on("room_joined", (room, id) => shared(room) && log(`${name}: ${id} joined ${room}`));
  nsp.on("room_left", (room, id) => shared(room) && log(`${name}: ${id} left ${room}`));
  nsp.on("room_deleted", (room) => shared(room) && log(`${name}: room deleted ${room}`));
}
