/**
 * The server and client over loopback TCP, in one process: an acknowledged round trip (client
 * emitWithAck → server handler → reply), a room broadcast to 20 clients (until every one has it),
 * and the same broadcast as a message frame. `deno task bench` runs it with the codec benchmark;
 * figures go in docs/PERFORMANCE.md.
 */

import { GameSocketClient } from "../client.ts";
import { GameSocketServer } from "../server.ts";
import { SchemaRegistry } from "../protocol/mod.ts";
import { PlayerState, sample } from "./player_state.ts";

const MEMBERS = 20;
const schemas = new SchemaRegistry([PlayerState]);
const server = new GameSocketServer({ hostname: "127.0.0.1", port: 0, schemas });
const game = server.of("/game");
game.on("connection", (socket) => {
  socket.join("room");
  socket.on("echo", (data) => data);
});
const { port } = await server.listen();

const clients: GameSocketClient[] = [];
let pending = 0;
let allReceived: () => void = () => {};
const onReceive = () => {
  if (--pending === 0) allReceived();
};
for (let i = 0; i < MEMBERS; i++) {
  const client = new GameSocketClient({ schemas });
  await client.connect("127.0.0.1", port);
  const socket = await client.of("/game").ready;
  socket.on("state", onReceive);
  socket.onMessage(PlayerState, onReceive);
  clients.push(client);
}
const first = clients[0]!.of("/game");

function everyoneGets(send: () => void): Promise<void> {
  pending = MEMBERS;
  const done = new Promise<void>((resolve) => allReceived = resolve);
  send();
  return done;
}

Deno.bench("ack round trip (client → server → client)", { group: "round trip" }, async () => {
  await first.emitWithAck("echo", 1);
});

Deno.bench(
  "event to a 20-member room, until all have it",
  { group: "broadcast", baseline: true },
  async () => {
    await everyoneGets(() => game.to("room").emit("state", sample));
  },
);

Deno.bench(
  "message frame to a 20-member room, until all have it",
  { group: "broadcast" },
  async () => {
    await everyoneGets(() => game.to("room").send(PlayerState, sample));
  },
);
