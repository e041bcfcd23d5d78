/**
 * `watchRoom`, the client mode of `deno task dump`: it joins a room and reports what arrives.
 */

import assert from "node:assert/strict";
import { createDemoServer } from "../cli/demo_server.ts";
import { defineSchema, SchemaRegistry } from "../protocol/mod.ts";
import { formatWatchEntry, type WatchEntry, watchEntryToJson, watchRoom } from "../inspect/mod.ts";
import { ConnectError, GameSocketClient, JoinError } from "../client.ts";
import { connectClient, startServer } from "./harness.ts";
import { home, rejection, within } from "./within.ts";

/** Collects entries, and resolves `until` once one matches. */
function collector(match: (entry: WatchEntry) => boolean) {
  const entries: WatchEntry[] = [];
  let found: () => void = () => {};
  const until = new Promise<void>((resolve) => found = resolve);
  return {
    entries,
    until,
    onEntry: (entry: WatchEntry) => {
      entries.push(entry);
      if (match(entry)) found();
    },
  };
}

Deno.test("watchRoom joins a room and reports members and events as they arrive", async () => {
  const demo = createDemoServer({ hostname: "127.0.0.1", port: 0, log: () => {} });
  const { port } = await demo.listen();
  await using _demo = { [Symbol.asyncDispose]: () => demo.close() };
  const seen = collector((entry) => entry.kind === "event");
  await using watch = await watchRoom(
    { hostname: "127.0.0.1", port, namespace: "/home", room: "lobby" },
    seen.onEntry,
  );
  await using player = new GameSocketClient();
  await player.connect("127.0.0.1", port);
  const playerHome = await home(player);
  await within(playerHome.join("lobby"));
  playerHome.to("lobby").emit("hello", "hello all");
  await within(seen.until, "the hello");

  const kinds = seen.entries.map((entry) => entry.kind);
  assert.deepEqual(kinds, ["room_joined", "member_entered", "event"]);
  const [joined, entered, hello] = seen.entries;
  assert.equal(formatWatchEntry(joined!).replace(/^\d+\.\d{3} /, ""), "/home joined lobby");
  assert.equal(entered?.kind === "member_entered" && entered.socketId, playerHome.id);
  assert.ok(hello?.kind === "event");
  assert.equal(hello.event, "hello");
  assert.equal(hello.data, "hello all");
  assert.equal(hello.room, "lobby");
  assert.equal(hello.sender, playerHome.id);
  assert.match(
    formatWatchEntry(hello),
    new RegExp(`^\\d+\\.\\d{3} /home lobby hello from ${playerHome.id}: "hello all"$`),
  );
  assert.deepEqual(JSON.parse(JSON.stringify(watchEntryToJson(hello))), {
    kind: "event",
    time: hello.time,
    namespace: "/home",
    event: "hello",
    data: "hello all",
    room: "lobby",
    sender: playerHome.id,
  });
  assert.equal(watch.socket.connected, true);
});

Deno.test("watchRoom decodes message frames of the schemas it is given", async () => {
  const Tick = defineSchema({
    name: "Tick",
    code: 3,
    version: 0,
    fields: { n: { id: 0, type: "uint16" } },
  });
  const schemas = new SchemaRegistry([Tick]);
  await using test = await startServer({ schemas });
  const game = test.server.of("/game");
  const seen = collector((entry) => entry.kind === "message");
  await using _watch = await watchRoom(
    { hostname: "127.0.0.1", port: test.port, namespace: "/game", room: "r1", schemas },
    seen.onEntry,
  );
  game.to("r1").send(Tick, { n: 7 });
  await within(seen.until, "the message");
  const message = seen.entries.find((entry) => entry.kind === "message");
  assert.ok(message?.kind === "message");
  assert.deepEqual(message.value, { n: 7 });
  assert.match(formatWatchEntry(message), /^\d+\.\d{3} \/game Tick \{n: 7\}$/);
});

Deno.test("watchRoom reports the disconnect when the server goes away", async () => {
  await using test = await startServer();
  const seen = collector((entry) => entry.kind === "disconnect");
  const watch = await watchRoom({ hostname: "127.0.0.1", port: test.port }, seen.onEntry);
  await test.server.close();
  assert.equal(await within(watch.closed, "the disconnect"), "server shutting down");
  await watch.close();
  assert.deepEqual(seen.entries.map((entry) => entry.kind), ["disconnect"]);
});

Deno.test("watchRoom fails with the server's refusal and leaves nothing open", async () => {
  await using test = await startServer();
  test.server.of("/home").onJoinRequest(() => "Private");
  const error = await rejection(
    watchRoom({ hostname: "127.0.0.1", port: test.port, namespace: "/nope" }, () => {}),
    ConnectError,
  );
  assert.equal(error.code, "invalid_namespace");
  const refused = await rejection(
    watchRoom({ hostname: "127.0.0.1", port: test.port, namespace: "/home", room: "x" }, () => {}),
    JoinError,
  );
  assert.equal(refused.code, "refused");
  // The server is still fine.
  await using client = await connectClient(test.port);
  assert.ok(client.root?.connected);
});
