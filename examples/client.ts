/**
 * The original game_socket client example, written with game-socket: connects to "/", then
 * "/home", joins "lobby", sends `hello` with "hello all" to the room, prints the broadcast that
 * comes back, and closes.
 *
 * `deno run --allow-net examples/client.ts [--host 127.0.0.1] [--port 3103]`
 */

import { parseArgs } from "node:util";
import { GameSocketClient } from "../client.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "3103" },
  },
});
const client = new GameSocketClient();
client.on("open", () => console.log(`open ${values.host}:${values.port}`));
client.on(
  "handshake",
  (_socket, info) =>
    console.log(
      `handshake ${info.namespace} socket ${info.socketId} heartbeat ${info.heartbeatInterval}/${info.heartbeatTimeout} ms`,
    ),
);

await client.connect(values.host, Number(values.port));
const home = await client.of("/home").ready;
const hello = new Promise<void>((resolve) => {
  home.on("hello", (message, { room, sender }) => {
    console.log(`hello from ${sender} in ${room}: ${message}`);
    resolve();
  });
});
await home.join("lobby");
console.log("joined lobby");
home.to("lobby").emit("hello", "hello all");
await hello;
await client.close();
