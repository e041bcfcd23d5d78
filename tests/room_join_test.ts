/**
 * Rooms for games over real loopback: private rooms with a capacity, creating and joining with
 * options, player names and ids, and every refusal a client can meet — each one typed, changing
 * nothing, while the room's members keep hearing their room.
 */

import assert from "node:assert/strict";
import { encodeFrame, ErrorCode, RoomCreate, RoomJoinError } from "../protocol/mod.ts";
import { JoinError, type RoomMember, SocketClosedError } from "../mod.ts";
import type { ClientSocket, JoinedRoom } from "../client.ts";

import { connectClient, startServer } from "./harness.ts";
import { assertRoomHears } from "./room_probes.ts";
import { handshakenPeer, startEchoServer } from "./server_probes.ts";
import { assertEchoes, eventOf, home, nextFrame, rejection, within } from "./within.ts";

/** What the members of a join result say, as `player#id`. */
function roster(joined: JoinedRoom): string[] {
  return joined.members.map((member) => `${member.player ?? "?"}#${member.playerId}`);
}

Deno.test("A private room with a capacity: its key lets players in up to the capacity; a wrong key or a full room is refused and changes nothing", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  await using c3 = await connectClient(test.port);
  const [ann, bob, cat] = [await home(c1), await home(c2), await home(c3)];

  const created = await within(ann.createRoom("table", {
    capacity: 2,
    key: "s3cret",
    metadata: { game: "poker", blinds: [1, 2] },
    player: "ann",
  }));
  assert.ok(created !== undefined);
  assert.deepEqual(roster(created), ["ann#1"]);
  assert.equal(created.playerId, 1);
  assert.equal(created.capacity, 2);
  assert.deepEqual(created.metadata, { game: "poker", blinds: [1, 2] });
  assert.equal(nsp.getRoom("table")?.createdBy, ann.id);

  const noKey = await rejection(bob.join("table", { player: "bob" }), JoinError);
  assert.equal(noKey.code, "wrong_key");
  const wrongKey = await rejection(bob.join("table", { key: "guess", player: "bob" }), JoinError);
  assert.equal(wrongKey.code, "wrong_key");
  assert.equal(wrongKey.room, "table");
  assert.deepEqual([...bob.rooms], [], "a refused join puts the socket nowhere");
  assert.equal(nsp.getRoom("table")?.size, 1);

  const entered = eventOf<[RoomMember]>(ann, "member_entered");
  const joined = await within(bob.join("table", { key: "s3cret", player: "bob" }));
  assert.deepEqual(roster(joined), ["ann#1", "bob#2"]);
  assert.equal(joined.playerId, 2);
  assert.equal(joined.memberCount, 2);
  assert.deepEqual(joined.metadata, { game: "poker", blinds: [1, 2] });
  assert.deepEqual(await entered, [{
    room: "table",
    socketId: bob.id,
    player: "bob",
    playerId: 2,
  }]);
  assert.equal(nsp.getRoom("table")?.full, true);

  const full = await rejection(cat.join("table", { key: "s3cret" }), JoinError);
  assert.equal(full.code, "full");
  assert.deepEqual([...cat.rooms], []);
  assert.deepEqual([...nsp.getRoom("table")!.members.keys()], [ann.id, bob.id]);
  // The members keep hearing their room, and the refused socket does not.
  let catHeard = false;
  cat.on("news", () => void (catHeard = true));
  await assertRoomHears(nsp, "table", [ann, bob]);
  assert.equal(catHeard, false);
});

Deno.test("Joining is refused when the socket is in the room already, and joining a room that does not exist creates it only where the policy says so", async () => {
  await using test = await startServer();
  const open = test.server.of("/home");
  const strict = test.server.of("/strict", { rooms: { creation: "explicit" } });
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  const a = await home(c1);
  const b = await home(c2);
  await within(a.join("lobby"));
  await within(b.join("lobby"));
  const again = await rejection(a.join("lobby"), JoinError);
  assert.equal(again.code, "already_member");
  const own = await rejection(a.join(a.id!), JoinError);
  assert.equal(own.code, "already_member");
  assert.equal(open.getRoom("lobby")?.size, 2);
  await assertRoomHears(open, "lobby", [a, b]);

  const s = await within(c1.of("/strict").ready);
  const missing = await rejection(s.join("nowhere"), JoinError);
  assert.equal(missing.code, "not_found");
  assert.equal(strict.getRoom("nowhere"), undefined);
  assert.equal(strict.rooms.has("nowhere"), false);
  strict.createRoom("somewhere");
  assert.equal((await within(s.join("somewhere"))).playerId, 1);
});

Deno.test("Creating a room that exists is refused with exists, from a client and on the server, and the room is unchanged", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  const [a, b] = [await home(c1), await home(c2)];
  await within(a.createRoom("arena", { capacity: 4, metadata: { map: "dust" } }));
  const taken = await rejection(b.createRoom("arena", { capacity: 8 }), JoinError);
  assert.equal(taken.code, "exists");
  const socketName = await rejection(b.createRoom(a.id!), JoinError);
  assert.equal(socketName.code, "exists", "a socket's own room is taken too");
  assert.throws(() => nsp.createRoom("arena"), JoinError);
  assert.equal(nsp.getRoom("arena")?.capacity, 4);
  assert.deepEqual(nsp.getRoom("arena")?.metadata, { map: "dust" });
  assert.deepEqual([...b.rooms], []);
  await assertRoomHears(nsp, "arena", [a]);
});

Deno.test("Room options out of range are refused as invalid: capacity 0 or absurd, metadata over the size limit or not an object, names too long", async () => {
  await using test = await startServer({ rooms: { maxCapacity: 16, maxMetadataSize: 64 } });
  const nsp = test.server.of("/home");
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  const [a, witness] = [await home(c1), await home(c2)];
  await within(witness.join("lobby"));

  // The client refuses what can never be right before sending it.
  await rejection(a.createRoom("r", { capacity: 0 }), RangeError);
  await rejection(a.createRoom("r", { capacity: 2.5 }), RangeError);
  await rejection(a.createRoom("r", { metadata: [1] as never }), TypeError);
  // The server refuses what is over its limits.
  const cases: [string, Promise<unknown>][] = [
    ["absurd capacity", a.createRoom("r", { capacity: 1_000_000 })],
    ["metadata too large", a.createRoom("r", { metadata: { text: "x".repeat(100) } })],
    ["grace too long", a.createRoom("r", { emptyTimeout: 10 * 60 * 60 * 1000 })],
    ["name too long", a.createRoom("r".repeat(65))],
    ["player name too long", a.createRoom("r", { player: "p".repeat(33) })],
    ["created empty without a grace period", a.createRoom("r", { join: false })],
  ];
  for (const [what, request] of cases) {
    const error = await rejection(request, JoinError);
    assert.equal(error.code, "invalid", what);
  }
  assert.equal(nsp.getRoom("r"), undefined);
  assert.equal(nsp.roomMoves.registry.size, 1, "only the witness's lobby exists");

  // A hostile peer can send what the client refuses: capacity 0 and metadata that is not JSON.
  const { peer } = await handshakenPeer(test);
  await using _peer = peer;
  const refusals: number[] = [];
  for (
    const [i, fields] of [{ capacity: 0 }, { metadata: new Uint8Array([0x7b, 0xff]) }].entries()
  ) {
    await peer.write(encodeFrame(RoomCreate, { room: "x", requestId: i, join: true, ...fields }));
    const frame = await nextFrame(peer);
    assert.ok(frame?.type === "control" && frame.schema === RoomJoinError);
    assert.equal(frame.value.requestId, i);
    refusals.push(frame.value.code as number);
  }
  assert.deepEqual(refusals, [ErrorCode.InvalidRoomOptions, ErrorCode.InvalidRoomOptions]);
  assert.equal(nsp.getRoom("x"), undefined);
  await assertRoomHears(nsp, "lobby", [witness]);
});

Deno.test("One socket creating 10,000 rooms is stopped at rooms.maxCreatedPerSocket with limit_exceeded, and gets a slot back when one of its rooms goes", async () => {
  await using test = await startEchoServer({ rateLimit: false });
  const nsp = test.server.root;
  await using witness = await connectClient(test.port);
  await using hostile = await connectClient(test.port);
  await within(witness.root!.join("lobby"));
  const results = await within(
    Promise.allSettled(
      Array.from(
        { length: 10_000 },
        (_, i) => hostile.root!.createRoom(`room-${i}`, { join: false, emptyTimeout: 60_000 }),
      ),
    ),
    "10,000 answers",
    20_000,
  );
  const made = results.filter((result) => result.status === "fulfilled");
  const refused = results.flatMap((result) =>
    result.status === "rejected" ? [result.reason as JoinError] : []
  );
  assert.equal(made.length, 16);
  assert.equal(refused.length, 9_984);
  assert.ok(refused.every((error) => error instanceof JoinError));
  assert.ok(refused.every((error) => error.code === "limit_exceeded"));
  assert.ok(refused.every((error) => error.limit === "rooms_created"));
  assert.equal(nsp.roomMoves.registry.size, 17, "16 rooms and the lobby");
  await assertEchoes(witness, 1);
  await assertRoomHears(nsp, "lobby", [witness.root!]);

  nsp.deleteRoom("room-0");
  assert.equal(
    await within(hostile.root!.createRoom("one-more", { join: false, emptyTimeout: 60_000 })),
    undefined,
  );
  const over = await rejection(
    hostile.root!.createRoom("two-more", { join: false, emptyTimeout: 60_000 }),
    JoinError,
  );
  assert.equal(over.limit, "rooms_created");
});

Deno.test("Two sockets racing for the last seat while an async join hook decides: exactly one gets it", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  // The hook holds each decision until the test lets it go; `calls(n)` resolves once n wait.
  const decisions: (() => void)[] = [];
  let called = () => {};
  const calls = (n: number) =>
    within(
      new Promise<void>((resolve) => {
        called = () => decisions.length >= n && resolve();
        called();
      }),
      `${n} hook calls`,
    );
  nsp.onJoinRequest(() =>
    new Promise<boolean>((resolve) => {
      decisions.push(() => resolve(true));
      called();
    })
  );
  nsp.createRoom("duel", { capacity: 2 });
  await using c0 = await connectClient(test.port);
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  const [first, x, y] = [await home(c0), await home(c1), await home(c2)];
  const seated = first.join("duel");
  await calls(1);
  decisions.shift()!();
  await within(seated);
  const raceX = x.join("duel").then(() => "x", (error: JoinError) => `x ${error.code}`);
  const raceY = y.join("duel").then(() => "y", (error: JoinError) => `y ${error.code}`);
  await calls(2);
  // Both were allowed by the hook while the seat was free; both answers now land together.
  for (const decide of decisions.splice(0)) decide();
  const outcomes = (await within(Promise.all([raceX, raceY]))).sort();
  assert.equal(outcomes.filter((outcome) => outcome.length === 1).length, 1, outcomes.join());
  assert.deepEqual(outcomes.map((outcome) => outcome.replace(/^[xy]/, "")).sort(), ["", " full"]);
  assert.equal(nsp.getRoom("duel")?.size, 2);
  const winner = outcomes.includes("x") ? x : y;
  assert.deepEqual(
    [...nsp.getRoom("duel")!.members.values()].map((member) => member.playerId),
    [1, 2],
  );
  await assertRoomHears(nsp, "duel", [first, winner]);
});

Deno.test("Player ids are unique in a room from 1 and given again after a leave; a join hook sets the name the server trusts", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  nsp.use(({ handshake, data }) => {
    data.name = (handshake.auth as { name?: string } | undefined)?.name ?? "anonymous";
  });
  nsp.onJoinRequest((socket) => ({ player: String(socket.data.name) }));
  const players: ClientSocket[] = [];
  const clients = [];
  for (const name of ["ann", "bob", "cat", "dan"]) {
    const client = await connectClient(test.port);
    clients.push(client);
    players.push(await within(client.of("/home", { auth: { name } }).ready));
  }
  try {
    const [ann, bob, cat, dan] = players as [
      ClientSocket,
      ClientSocket,
      ClientSocket,
      ClientSocket,
    ];
    await within(ann.join("table", { player: "the king" }));
    await within(bob.join("table"));
    const third = await within(cat.join("table", { player: "impostor" }));
    assert.deepEqual(
      roster(third),
      ["ann#1", "bob#2", "cat#3"],
      "the hook's names, not the claims",
    );
    const bobLeft = eventOf<[RoomMember]>(ann, "member_left");
    await within(bob.leave("table"));
    assert.deepEqual(await bobLeft, [{
      room: "table",
      socketId: bob.id,
      player: "bob",
      playerId: 2,
    }]);
    const danIn = eventOf<[RoomMember]>(ann, "member_entered");
    const fourth = await within(dan.join("table"));
    assert.equal(fourth.playerId, 2, "the lowest free id");
    assert.deepEqual(roster(fourth), ["ann#1", "cat#3", "dan#2"]);
    assert.deepEqual(await danIn, [{
      room: "table",
      socketId: dan.id,
      player: "dan",
      playerId: 2,
    }]);
    assert.deepEqual(
      [...nsp.getRoom("table")!.members.values()].map((m) => `${m.player}#${m.playerId}`),
      ["ann#1", "cat#3", "dan#2"],
    );
  } finally {
    for (const client of clients) await client.close();
  }
});

Deno.test("A room request before the namespace's handshake rejects with SocketClosedError saying it is not connected yet", async () => {
  await using test = await startServer();
  test.server.of("/home");
  await using client = await connectClient(test.port);
  const early = client.of("/home");
  const error = await rejection(early.join("lobby"), SocketClosedError);
  assert.match(error.message, /not connected yet/);
  await rejection(early.listRooms(), SocketClosedError);
  const ready = await within(early.ready);
  assert.equal((await within(ready.join("lobby"))).playerId, 1, "once ready, the same join works");
});
