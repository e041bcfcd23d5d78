/**
 * `watchRoom`, the client mode of `deno task dump`: it joins a room and reports what arrives.
 */

import assert from "node:assert/strict";
import { createDemoServer, LOBBY_HALL } from "../cli/demo_server.ts";
import { defineSchema, SchemaRegistry } from "../protocol/mod.ts";
import { formatWatchEntry, type WatchEntry, watchEntryToJson, watchRoom } from "../inspect/mod.ts";
import { ConnectError, GameSocketClient, JoinError } from "../client.ts";
import { connectClient, startServer } from "./harness.ts";
import { home, rejection, within } from "./within.ts";

/**
 * Collects entries; `until` resolves once one matches `match`, and `next(test)` (within the
 * deadline) with the first entry, already collected or still to come, that passes `test`.
 */
function collector(match: (entry: WatchEntry) => boolean = () => false) {
  const entries: WatchEntry[] = [];
  const waiters: { test: (entry: WatchEntry) => boolean; found: (entry: WatchEntry) => void }[] =
    [];
  const first = (test: (entry: WatchEntry) => boolean) =>
    new Promise<WatchEntry>((found) => {
      const seen = entries.find(test);
      if (seen !== undefined) return found(seen);
      waiters.push({ test, found });
    });
  return {
    entries,
    until: first(match),
    next: (test: (entry: WatchEntry) => boolean, what: string) => within(first(test), what),
    onEntry: (entry: WatchEntry) => {
      entries.push(entry);
      for (const waiter of waiters.filter((waiter) => waiter.test(entry))) waiter.found(entry);
    },
  };
}

/** A watch line without its time. */
const untimed = (entry: WatchEntry) => formatWatchEntry(entry).replace(/^\d+\.\d{3} /, "");

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
  const self = watch.socket.id;
  assert.equal(untimed(joined!), `/home joined lobby as #1, 1 member: ${self} #1`);
  assert.equal(untimed(entered!), `/home lobby: ${playerHome.id} #2 entered`);
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

Deno.test("watchRoom joins a locked room with its key and shows the members, their ids and moves", async () => {
  const demo = createDemoServer({ hostname: "127.0.0.1", port: 0, log: () => {} });
  const { port } = await demo.listen();
  await using _demo = { [Symbol.asyncDispose]: () => demo.close() };
  await using ann = new GameSocketClient();
  await ann.connect("127.0.0.1", port);
  const annLobby = await within(ann.of("/lobby").ready, "ann's handshake");
  await within(
    annLobby.createRoom("duel", {
      capacity: 3,
      key: "s3cret",
      metadata: { map: "dust" },
      player: "ann",
      leave: LOBBY_HALL,
    }),
    "the create",
  );

  const seen = collector();
  await using watch = await watchRoom(
    {
      hostname: "127.0.0.1",
      port,
      namespace: "/lobby",
      room: "duel",
      key: "s3cret",
      player: "spy",
    },
    seen.onEntry,
  );
  const self = watch.socket.id;
  const joined = await seen.next(
    (entry) => entry.kind === "room_joined" && entry.room === "duel",
    "the join",
  );
  assert.equal(
    untimed(joined),
    `/lobby joined duel as spy #2, 2/3 members: ${annLobby.id} ann #1, ${self} spy #2; ` +
      `metadata {"map":"dust"}`,
  );
  assert.deepEqual(watchEntryToJson(joined), {
    kind: "room_joined",
    time: joined.time,
    namespace: "/lobby",
    room: "duel",
    playerId: 2,
    player: "spy",
    members: [
      { room: "duel", socketId: annLobby.id, player: "ann", playerId: 1 },
      { room: "duel", socketId: self, player: "spy", playerId: 2 },
    ],
    memberCount: 2,
    capacity: 3,
    metadata: { map: "dust" },
  });

  // Bob lands in the hall (where the watch is too), then moves to the duel in one step, then
  // leaves it: the watch, in both rooms, sees him enter, move, and leave.
  await using bob = new GameSocketClient();
  await bob.connect("127.0.0.1", port);
  const bobLobby = await within(bob.of("/lobby").ready, "bob's handshake");
  const entered = await seen.next((entry) => entry.kind === "member_entered", "bob's entry");
  assert.equal(untimed(entered), `/lobby hall: ${bobLobby.id} #2 entered`);
  await within(bobLobby.join("duel", { key: "s3cret", leave: LOBBY_HALL, player: "bob" }));
  const moved = await seen.next((entry) => entry.kind === "member_moved", "bob's move");
  assert.equal(untimed(moved), `/lobby duel: ${bobLobby.id} bob #3 moved from hall`);
  assert.deepEqual(watchEntryToJson(moved), {
    kind: "member_moved",
    time: moved.time,
    namespace: "/lobby",
    from: "hall",
    to: "duel",
    socketId: bobLobby.id,
    player: "bob",
    playerId: 3,
  });
  await within(bobLobby.leave("duel"));
  const left = await seen.next((entry) => entry.kind === "member_left", "bob's leave");
  assert.equal(untimed(left), `/lobby duel: ${bobLobby.id} bob #3 left`);
  assert.deepEqual(seen.entries.map((entry) => entry.kind), [
    "room_joined",
    "room_joined",
    "member_entered",
    "member_moved",
    "member_left",
  ]);
  assert.equal(untimed(seen.entries[0]!), `/lobby joined hall as #1, 1 member: ${self} #1`);
});

Deno.test("formatWatchEntry counts the members a joined line does not name", () => {
  const members = Array.from({ length: 25 }, (_, i) => ({
    room: "big",
    socketId: `s${i + 1}`,
    playerId: i + 1,
  }));
  const line = formatWatchEntry({
    kind: "room_joined",
    time: 0,
    namespace: "/",
    room: "big",
    playerId: 25,
    members: members.slice(0, 24),
    memberCount: 30,
    metadata: {},
  });
  assert.equal(
    line,
    `0.000 / joined big as #25, 30 members: ${
      members.slice(0, 20).map((m) => `${m.socketId} #${m.playerId}`).join(", ")
    }, and 10 more`,
  );
});
