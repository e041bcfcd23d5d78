/**
 * The demo server's `/lobby` (`deno task serve`): players land in `hall`, create rooms with a
 * capacity and a key, list them, join them with the key (leaving `hall` in the same step), are
 * refused when the room is full or the key is wrong, and `chat` is relayed inside a room only.
 */

import assert from "node:assert/strict";
import { createDemoServer, LOBBY_HALL, LOBBY_NAMESPACE } from "../cli/demo_server.ts";
import {
  type ClientSocket,
  GameSocketClient,
  type JoinedRoom,
  JoinError,
  type RoomMember,
} from "../client.ts";
import { eventOf, rejection, within } from "./within.ts";

/** The demo server on a free port, its log lines kept and awaitable. */
async function startDemo() {
  const log: string[] = [];
  const waiters: { test: (line: string) => boolean; found: () => void }[] = [];
  const server = createDemoServer({
    hostname: "127.0.0.1",
    port: 0,
    log: (line) => {
      log.push(line);
      for (const waiter of waiters.filter((waiter) => waiter.test(line))) waiter.found();
    },
  });
  const { port } = await server.listen();
  /** Resolves once a line passing `test` has been logged (maybe already). */
  const logged = (test: (line: string) => boolean, what: string) =>
    within(
      new Promise<void>((found) => {
        if (log.some(test)) return found();
        waiters.push({ test, found });
      }),
      what,
    );
  return { server, port, log, logged, [Symbol.asyncDispose]: () => server.close() };
}

/** A client in the lobby: its socket, and what it was told on landing in the hall. */
async function enterLobby(port: number) {
  const client = new GameSocketClient();
  await client.connect("127.0.0.1", port);
  const lobby = client.of(LOBBY_NAMESPACE);
  // Listened for before the handshake is in: the server puts the socket in the hall at once.
  const landed = eventOf<[string, JoinedRoom]>(lobby, "room_joined");
  await within(lobby.ready, "the handshake of /lobby");
  const [room, hall] = await landed;
  assert.equal(room, LOBBY_HALL);
  return { client, lobby, hall, [Symbol.asyncDispose]: () => client.close() };
}

/** Collects a socket's `chat` events as `room sender: message`. */
function chats(socket: ClientSocket): string[] {
  const seen: string[] = [];
  socket.on("chat", (message, { room, sender }) => seen.push(`${room} ${sender}: ${message}`));
  return seen;
}

Deno.test("the demo's /lobby lists, locks, fills and relays chat inside a room", async () => {
  await using demo = await startDemo();
  assert.equal(demo.log.length, 0, "nothing is logged before a client comes");
  await using ann = await enterLobby(demo.port);
  assert.equal(ann.hall.capacity, undefined);
  assert.deepEqual(ann.hall.members.map((member) => member.socketId), [ann.lobby.id]);

  const duel = await within(
    ann.lobby.createRoom("duel", {
      capacity: 2,
      key: "s3cret",
      metadata: { map: "dust" },
      player: "ann",
      leave: LOBBY_HALL,
    }),
    "the create",
  );
  assert.ok(duel !== undefined);
  assert.equal(duel.left, LOBBY_HALL);
  assert.equal(duel.playerId, 1);
  assert.equal(duel.capacity, 2);
  assert.deepEqual(duel.metadata, { map: "dust" });
  assert.deepEqual([...ann.lobby.rooms], ["duel"]);

  await using bob = await enterLobby(demo.port);
  const page = await within(bob.lobby.listRooms(), "the listing");
  assert.deepEqual(page.rooms, [
    { name: "duel", members: 1, capacity: 2, metadata: { map: "dust" }, locked: true },
    { name: LOBBY_HALL, members: 1, metadata: {}, locked: false },
  ]);
  assert.equal(page.next, undefined);

  const wrongKey = await rejection(
    bob.lobby.join("duel", { key: "guess", leave: LOBBY_HALL }),
    JoinError,
  );
  assert.equal(wrongKey.code, "wrong_key");
  const missing = await rejection(bob.lobby.join("nowhere"), JoinError);
  assert.equal(missing.code, "not_found", "rooms are created explicitly in /lobby");

  const entered = eventOf<[RoomMember]>(ann.lobby, "member_entered");
  const joined = await within(
    bob.lobby.join("duel", { key: "s3cret", leave: LOBBY_HALL, player: "bob" }),
    "bob's join",
  );
  assert.equal(joined.left, LOBBY_HALL);
  assert.equal(joined.playerId, 2);
  assert.equal(joined.memberCount, 2);
  assert.deepEqual(
    joined.members.map(({ socketId, player, playerId }) => ({ socketId, player, playerId })),
    [
      { socketId: ann.lobby.id, player: "ann", playerId: 1 },
      { socketId: bob.lobby.id, player: "bob", playerId: 2 },
    ],
  );
  assert.deepEqual(await entered, [
    { room: "duel", socketId: bob.lobby.id, player: "bob", playerId: 2 },
  ]);
  assert.deepEqual([...bob.lobby.rooms], ["duel"]);
  await demo.logged((line) => line === "/lobby: room full duel", "the room full line");

  await using cy = await enterLobby(demo.port);
  const full = await rejection(cy.lobby.join("duel", { key: "s3cret" }), JoinError);
  assert.equal(full.code, "full");

  const annChats = chats(ann.lobby);
  const bobChats = chats(bob.lobby);
  const cyChats = chats(cy.lobby);
  ann.lobby.to("duel").emit("chat", "gl hf");
  await within(eventOf(bob.lobby, "chat"), "the chat in the duel");
  // Not a member of the duel: dropped. Then one to the hall, which only cy is in; the server
  // handles cy's two chats in order, so once cy hears the second, the first had its chance.
  cy.lobby.to("duel").emit("chat", "let me in");
  cy.lobby.to(LOBBY_HALL).emit("chat", "anyone?");
  await within(eventOf(cy.lobby, "chat"), "the chat in the hall");
  ann.lobby.to("duel").emit("chat", "gg");
  await within(eventOf(bob.lobby, "chat"), "the second chat in the duel");

  const [a, c] = [ann.lobby.id, cy.lobby.id];
  assert.deepEqual(bobChats, [`duel ${a}: gl hf`, `duel ${a}: gg`]);
  assert.deepEqual(annChats.slice(0, 1), [`duel ${a}: gl hf`], "the sender hears its own chat");
  assert.deepEqual(cyChats, [`hall ${c}: anyone?`]);

  await ann.client.close();
  await bob.client.close();
  await demo.logged((line) => line === "/lobby: room deleted duel", "the duel's deletion");
  const b = bob.lobby.id;
  for (
    const line of [
      `/lobby: ${a} (#1) joined hall`,
      `/lobby: room created duel by ${a} (capacity 2, locked, {"map":"dust"})`,
      `/lobby: ${a} (#1) left hall`,
      `/lobby: ${a} (ann #1) joined duel`,
      `/lobby: ${b} (bob #2) joined duel`,
      `/lobby: chat from ${a} to duel: "gl hf"`,
      `/lobby: chat from ${c} to hall: "anyone?"`,
      `/lobby: ${a} (ann #1) left duel`,
    ]
  ) {
    assert.ok(demo.log.includes(line), `no "${line}" in\n${demo.log.join("\n")}`);
  }
  assert.ok(!demo.log.some((line) => line.includes("let me in")), demo.log.join("\n"));
  assert.ok(!demo.log.includes("/lobby: room deleted hall"), "the hall is kept for ever");
  const listed = await within(cy.lobby.listRooms(), "the last listing");
  assert.deepEqual(listed.rooms.map((room) => room.name), [LOBBY_HALL]);
});
