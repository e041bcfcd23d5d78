/**
 * Room requests over loopback TCP, in one process, each awaited by the client that asks: a join
 * and leave of an empty room, a switch between two rooms of 100 members each (every member told),
 * and a page of the listing of 10,000 rooms, plain and filtered. The acknowledged round trip is the
 * baseline: what a request costs beyond it is the room work. The members' clients run in the same
 * process, so a switch includes their handling of the member events: an event to the same 200
 * members, until all have it, is its yardstick. `deno task bench` runs it; figures go
 * in docs/PERFORMANCE.md.
 */

import { GameSocketClient } from "../client.ts";
import { GameSocketServer } from "../server.ts";

const MEMBERS = 100;
const ROOMS = 10_000;
const server = new GameSocketServer({
  hostname: "127.0.0.1",
  port: 0,
  rateLimit: false,
  rooms: { maxRooms: 2 * ROOMS },
});
const lobby = server.of("/lobby");
lobby.on("connection", (socket) => socket.on("echo", (data) => data));
for (let i = 0; i < ROOMS; i++) {
  lobby.createRoom(`table-${String(i).padStart(5, "0")}`, {
    capacity: 4,
    metadata: { game: i % 2 === 0 ? "chess" : "go" },
    emptyTimeout: Infinity,
  });
}
const { port } = await server.listen();

const clients: GameSocketClient[] = [];
async function member() {
  const client = new GameSocketClient();
  await client.connect("127.0.0.1", port);
  clients.push(client);
  return await client.of("/lobby").ready;
}
let pending = 0;
let allHeard = () => {};
for (let i = 0; i < 2 * MEMBERS; i++) {
  const socket = await member();
  await socket.join(i % 2 === 0 ? "a" : "b", { player: `p${i}` });
  socket.on("state", () => --pending === 0 && allHeard());
}
const mover = await member();
await mover.join("a", { player: "mover" });
let inA = true;

Deno.bench("ack round trip", { group: "room requests", baseline: true }, async () => {
  await mover.emitWithAck("echo", 1);
});

Deno.bench("join and leave an empty room", { group: "room requests" }, async () => {
  await mover.join("solo");
  await mover.leave("solo");
});

Deno.bench(
  `event to both rooms (${2 * MEMBERS} members), until all have it`,
  { group: "room requests" },
  async () => {
    pending = 2 * MEMBERS;
    const heard = new Promise<void>((resolve) => allHeard = resolve);
    lobby.to(["a", "b"]).except(mover.id!).emit("state", 1);
    await heard;
  },
);

Deno.bench(
  `switch between two rooms of ${MEMBERS} (one move, ${2 * MEMBERS} members told)`,
  { group: "room requests" },
  async () => {
    await mover.join(inA ? "b" : "a", { leave: inA ? "a" : "b" });
    inA = !inA;
  },
);

Deno.bench(`first page (50) of ${ROOMS} rooms`, { group: "room requests" }, async () => {
  await mover.listRooms();
});

Deno.bench(`page of ${ROOMS} rooms filtered on metadata`, { group: "room requests" }, async () => {
  await mover.listRooms({ metadata: { game: "go" }, after: "table-05000" });
});
