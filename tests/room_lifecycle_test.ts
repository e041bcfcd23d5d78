/**
 * The life of a room over real loopback sockets: created (by a join, by the server, by a
 * client's `createRoom`), kept empty for its grace period (`emptyTimeout`) or deleted as it
 * empties, changed (`room.update`), deleted by the server, and the namespace's room events with
 * the room's state; the server's own joins (player name and id, moves); `rooms.creation`.
 */

import assert from "node:assert/strict";
import { JoinError, type Namespace, type Room } from "../server.ts";
import type { JoinedRoom, RoomMember } from "../client.ts";
import { connectClient, startServer } from "./harness.ts";
import { assertRoomHears } from "./room_probes.ts";
import { eventOf, home, rejection, serverSide, within } from "./within.ts";

/** Resolves when the room named `name` is deleted, with the room and the time. */
function deletionOf(nsp: Namespace, name: string): Promise<{ room: Room; at: number }> {
  return within(
    new Promise((resolve) => {
      const listener = (room: Room) => {
        if (room.name !== name) return;
        nsp.off("room_deleted", listener);
        resolve({ room, at: performance.now() });
      };
      nsp.on("room_deleted", listener);
    }),
    `the deletion of ${name}`,
  );
}

/** Lets `ms` pass on the server's clock: an empty room with that grace period, until it goes. */
async function graceOf(nsp: Namespace, ms: number): Promise<void> {
  const name = `clock-${crypto.randomUUID()}`;
  const deleted = deletionOf(nsp, name);
  nsp.createRoom(name, { emptyTimeout: ms, hidden: true });
  await deleted;
}

/** A timer fires up to a millisecond early (the queue runs what is due within 1 ms). */
const EARLY = 2;

Deno.test("a room without a grace period is deleted as its last member leaves", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  const deleted: Room[] = [];
  nsp.on("room_deleted", (room) => void deleted.push(room));
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  const [a, b] = [await home(c1), await home(c2)];
  await within(a.join("lobby"));
  await within(b.join("lobby"));
  await within(a.leave("lobby"));
  assert.equal(nsp.getRoom("lobby")?.size, 1);
  assert.equal(deleted.length, 0);
  await within(b.leave("lobby"));
  // Deleted before the server answered the leave.
  assert.equal(nsp.getRoom("lobby"), undefined);
  assert.deepEqual(deleted.map((room) => [room.name, room.deleted, room.size]), [
    ["lobby", true, 0],
  ]);
});

Deno.test("a room with emptyTimeout is kept for its grace period once empty, then deleted", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  nsp.createRoom("grace", { emptyTimeout: 60, metadata: { map: "ice" } });
  await using client = await connectClient(test.port);
  const socket = await home(client);
  await within(socket.join("grace"));
  let emptied = 0;
  nsp.on("room_left", (room) => void (emptied = room.size === 0 ? performance.now() : emptied));
  const deleted = deletionOf(nsp, "grace");
  await within(socket.leave("grace"));
  assert.ok(emptied > 0);
  const kept = nsp.getRoom("grace");
  assert.equal(kept?.size, 0, "kept empty");
  assert.deepEqual(nsp.listRooms().rooms.map((room) => room.name), ["grace"], "and listed");
  const { room, at } = await deleted;
  assert.equal(room, kept);
  assert.equal(room.deleted, true);
  assert.ok(at - emptied >= 60 - EARLY, `deleted ${at - emptied} ms after it emptied`);
});

Deno.test("a join within the grace period keeps the room, and the next leave starts the period again", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  const kept = nsp.createRoom("kept", { emptyTimeout: 100 });
  await using client = await connectClient(test.port);
  const socket = await home(client);
  await within(socket.join("kept"));
  await within(socket.leave("kept"));
  await graceOf(nsp, 30);
  await within(socket.join("kept"));
  assert.equal(nsp.getRoom("kept"), kept);
  const deleted = deletionOf(nsp, "kept");
  const left = performance.now();
  await within(socket.leave("kept"));
  // Had the first period gone on, the room would go some 70 ms after this leave.
  const { at } = await deleted;
  assert.ok(at - left >= 100 - EARLY, `deleted ${at - left} ms after the second leave`);
  assert.equal(kept.deleted, true);
});

Deno.test("a client's createRoom with join false makes an empty room, deleted after its grace period if nobody joins", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using client = await connectClient(test.port);
  const socket = await home(client);
  const deleted = deletionOf(nsp, "solo");
  const asked = performance.now();
  assert.equal(
    await within(socket.createRoom("solo", { join: false, emptyTimeout: 50 })),
    undefined,
  );
  const room = nsp.getRoom("solo");
  assert.equal(room?.size, 0);
  assert.equal(room?.createdBy, socket.id);
  assert.equal(room?.emptyTimeout, 50);
  assert.deepEqual([...socket.rooms], []);
  const { at } = await deleted;
  assert.ok(at - asked >= 50 - EARLY, `deleted ${at - asked} ms after it was asked for`);
  assert.equal(nsp.getRoom("solo"), undefined);
});

Deno.test("createRoom with join false and no grace period is refused as invalid, and nothing is created", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  let created = 0;
  nsp.on("room_created", () => void created++);
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  const [witness, socket] = [await home(c1), await home(c2)];
  await within(witness.join("lobby"));
  for (const options of [{ join: false }, { join: false, emptyTimeout: 0 }]) {
    const error = await rejection(socket.createRoom("ghost", options), JoinError);
    assert.equal(error.code, "invalid");
    assert.equal(error.room, "ghost");
  }
  assert.equal(nsp.getRoom("ghost"), undefined);
  assert.equal(created, 1, "only lobby");
  await assertRoomHears(nsp, "lobby", [witness]);
});

Deno.test("a server room with emptyTimeout Infinity stays empty until nsp.deleteRoom", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  const forever = nsp.createRoom("forever", { emptyTimeout: Infinity });
  await using client = await connectClient(test.port);
  const socket = await home(client);
  await within(socket.join("forever"));
  await within(socket.leave("forever"));
  await graceOf(nsp, 40);
  assert.equal(nsp.getRoom("forever"), forever);
  assert.equal(forever.size, 0);
  const deleted: Room[] = [];
  nsp.on("room_deleted", (room) => void deleted.push(room));
  assert.equal(nsp.deleteRoom("forever"), true);
  assert.deepEqual(deleted, [forever]);
  assert.equal(nsp.getRoom("forever"), undefined);
  assert.equal(nsp.deleteRoom("forever"), false);
});

Deno.test("changing an empty room's emptyTimeout starts its grace period again with the new value", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  const kept = nsp.createRoom("kept", { emptyTimeout: Infinity });
  const soon = deletionOf(nsp, "kept");
  const start = performance.now();
  kept.update({ emptyTimeout: 30 });
  assert.equal(nsp.getRoom("kept"), kept, "not at once");
  assert.ok((await soon).at - start >= 30 - EARLY);
  // A shorter period set on a room already waiting replaces it; 0 deletes at once.
  const waiting = nsp.createRoom("waiting", { emptyTimeout: 60_000 });
  waiting.update({ emptyTimeout: 0 });
  assert.equal(nsp.getRoom("waiting"), undefined);
  assert.equal(waiting.deleted, true);
  // And Infinity stops the clock of a room that was waiting.
  const saved = nsp.createRoom("saved", { emptyTimeout: 30 });
  saved.update({ emptyTimeout: Infinity });
  await graceOf(nsp, 60);
  assert.equal(nsp.getRoom("saved"), saved);
});

Deno.test("a server room made empty without a grace period waits for its first member, and goes when it leaves", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  const table = nsp.createRoom("table");
  await graceOf(nsp, 30);
  assert.equal(nsp.getRoom("table"), table);
  await using client = await connectClient(test.port);
  const socket = await home(client);
  await within(socket.join("table"));
  const deleted = deletionOf(nsp, "table");
  await within(socket.leave("table"));
  assert.equal(nsp.getRoom("table"), undefined, "deleted before the leave was answered");
  assert.equal((await deleted).room, table);
});

Deno.test("nsp.createRoom refuses a taken name with JoinError exists and options out of range with RangeError", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home", { rooms: { maxMetadataSize: 32 } });
  const taken = nsp.createRoom("taken", { capacity: 2, metadata: { map: "ice" } });
  await using client = await connectClient(test.port);
  const witness = await home(client);
  await within(witness.join("taken"));
  for (const name of ["taken", witness.id!]) {
    assert.throws(() => nsp.createRoom(name), (error: unknown) => {
      assert.ok(error instanceof JoinError);
      assert.equal(error.code, "exists");
      assert.equal(error.room, name);
      return true;
    });
  }
  const bad = [
    { capacity: 0 },
    { capacity: 1.5 },
    { capacity: -1 },
    { metadata: [] as unknown as Record<string, never> },
    { metadata: { text: "x".repeat(40) } },
    { emptyTimeout: -1 },
    { emptyTimeout: 1.5 },
  ];
  for (const options of bad) {
    assert.throws(() => nsp.createRoom("new", options), RangeError, JSON.stringify(options));
  }
  assert.throws(() => nsp.createRoom(""), RangeError);
  assert.equal(nsp.getRoom("taken"), taken);
  assert.equal(taken.capacity, 2);
  assert.deepEqual(taken.metadata, { map: "ice" });
  assert.deepEqual(nsp.listRooms().rooms.map((room) => room.name), ["taken"]);
  // The server's rooms are not held to the limits on clients' requests, only to the metadata's.
  assert.equal(nsp.createRoom("arena", { capacity: 5000 }).capacity, 5000);
  await assertRoomHears(nsp, "taken", [witness]);
});

Deno.test("room.data lives as long as the room: a new room of the same name starts fresh", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  const first = nsp.createRoom("arena");
  first.data.score = 3;
  await using client = await connectClient(test.port);
  const socket = await home(client);
  await within(socket.join("arena"));
  assert.deepEqual(nsp.getRoom("arena")?.data, { score: 3 });
  const deleted = deletionOf(nsp, "arena");
  await within(socket.leave("arena"));
  assert.deepEqual((await deleted).room.data, { score: 3 }, "kept up to its deletion");
  await within(socket.join("arena"));
  const second = nsp.getRoom("arena");
  assert.ok(second !== undefined && second !== first);
  assert.deepEqual(second.data, {});
});

Deno.test("room.update changes metadata, capacity, key and visibility, and refuses values out of range", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home", { rooms: { maxMetadataSize: 32 } });
  const room = nsp.createRoom("table", { capacity: 4 });
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  await using c3 = await connectClient(test.port);
  const [owner, guest, late] = [await home(c1), await home(c2), await home(c3)];
  await within(owner.join("table"));
  room.update({ metadata: { map: "ice" }, capacity: 2, key: "k" });
  const info = { name: "table", members: 1, capacity: 2, metadata: { map: "ice" }, locked: true };
  assert.deepEqual(await within(late.listRooms()), { rooms: [info] });
  assert.equal((await rejection(guest.join("table"), JoinError)).code, "wrong_key");
  assert.equal((await within(guest.join("table", { key: "k" }))).memberCount, 2);
  assert.equal((await rejection(late.join("table", { key: "k" }), JoinError)).code, "full");

  for (const update of [{ capacity: 0 }, { capacity: 2.5 }, { emptyTimeout: -5 }]) {
    assert.throws(() => room.update(update), RangeError, JSON.stringify(update));
  }
  // Checked whole before anything changes.
  assert.throws(() => room.update({ capacity: 3, metadata: { text: "x".repeat(40) } }), RangeError);
  assert.deepEqual(room.info, { ...info, members: 2 });

  room.update({ key: null, capacity: null });
  assert.equal(room.locked, false);
  assert.equal(room.capacity, undefined);
  assert.equal((await within(late.join("table"))).memberCount, 3);
  room.update({ hidden: true });
  assert.deepEqual(await within(late.listRooms()), { rooms: [] });
  assert.deepEqual(nsp.listRooms(), { rooms: [] });
  await assertRoomHears(nsp, "table", [owner]);
});

Deno.test("nsp.deleteRoom takes every member out, each client told, and the room is gone", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  const log: string[] = [];
  nsp.on("room_left", (room, member) => void log.push(`left ${member.socketId} (${room.size})`));
  nsp.on("room_deleted", (room) => void log.push(`deleted ${room.deleted} (${room.size})`));
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  const [a, b] = [await home(c1), await home(c2)];
  await within(a.join("doomed"));
  await within(b.join("doomed"));
  await within(b.join("lobby"));
  const told = [eventOf<[string]>(a, "room_left"), eventOf<[string]>(b, "room_left")];
  assert.equal(nsp.deleteRoom("doomed"), true);
  assert.deepEqual(log, [`left ${a.id} (1)`, `left ${b.id} (0)`, "deleted true (0)"]);
  assert.deepEqual(await Promise.all(told), [["doomed"], ["doomed"]]);
  assert.deepEqual([...a.rooms], []);
  assert.deepEqual([...b.rooms], ["lobby"]);
  assert.equal(nsp.getRoom("doomed"), undefined);
  assert.equal(nsp.deleteRoom("doomed"), false);
  await assertRoomHears(nsp, "lobby", [b]);
});

Deno.test("room events carry the room's state, and room_full fires when a join fills it", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  const log: string[] = [];
  const seat = (room: Room, member: RoomMember) =>
    `#${member.playerId} in=${room.members.has(member.socketId)} size=${room.size}`;
  nsp.on("room_created", (room) => void log.push(`created ${room.name} ${room.size}`));
  nsp.on("room_joined", (room, member) => void log.push(`joined ${seat(room, member)}`));
  nsp.on("room_left", (room, member) => void log.push(`left ${seat(room, member)}`));
  nsp.on("room_full", (room) => void log.push(`full ${room.size} ${room.full}`));
  nsp.on("room_deleted", (room) => void log.push(`deleted ${room.deleted} ${room.size}`));
  nsp.createRoom("duel", { capacity: 2 });
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  await using c3 = await connectClient(test.port);
  const [a, b, c] = [await home(c1), await home(c2), await home(c3)];
  await within(a.join("duel"));
  await within(b.join("duel"));
  const refused = await rejection(c.join("duel"), JoinError);
  assert.equal(refused.code, "full");
  assert.equal(nsp.getRoom("duel")?.size, 2);
  await assertRoomHears(nsp, "duel", [b]);
  await within(a.leave("duel"));
  await within(b.leave("duel"));
  assert.deepEqual(log, [
    "created duel 0",
    "joined #1 in=true size=1",
    "joined #2 in=true size=2",
    "full 2 true",
    "left #1 in=false size=1",
    "left #2 in=false size=0",
    "deleted true 0",
  ]);
});

Deno.test("the server's socket.join sets the player name and id the client is told, and refuses a taken id", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  const [a, b] = [await home(c1), await home(c2)];
  const told = eventOf<[string, JoinedRoom]>(a, "room_joined");
  const [member] = serverSide(nsp, a).join("r", { player: "ann", playerId: 7 });
  const seat = { room: "r", socketId: a.id!, player: "ann", playerId: 7 };
  assert.deepEqual(member, seat);
  assert.deepEqual(await told, ["r", {
    room: "r",
    playerId: 7,
    player: "ann",
    members: [seat],
    memberCount: 1,
    metadata: {},
  }]);
  const other = serverSide(nsp, b);
  for (const playerId of [7, 0, 1.5]) {
    assert.throws(() => other.join("r", { playerId }), RangeError, `${playerId}`);
  }
  assert.equal(other.rooms.has("r"), false);
  assert.equal(nsp.getRoom("r")?.size, 1);
  assert.equal(other.join("r")[0]?.playerId, 1, "the lowest free id");
  await assertRoomHears(nsp, "r", [a]);
});

Deno.test("the server's socket.join with leave moves the socket in one step", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  const [mover, stayer] = [await home(c1), await home(c2)];
  const socket = serverSide(nsp, mover);
  await within(stayer.join("a"));
  const inA = eventOf(mover, "room_joined");
  socket.join("a");
  await inA;
  const steps: string[] = [];
  mover.on("room_left", (room) => void steps.push(`left ${room}`));
  mover.on("room_joined", (room, joined) => void steps.push(`joined ${room} from ${joined.left}`));
  const inB = eventOf(mover, "room_joined");
  const gone = eventOf<[RoomMember]>(stayer, "member_left");
  socket.join("b", { leave: "a" });
  await inB;
  assert.deepEqual(steps, ["left a", "joined b from a"]);
  assert.deepEqual([...mover.rooms], ["b"]);
  assert.deepEqual([...socket.rooms].sort(), [mover.id!, "b"].sort());
  assert.equal((await gone)[0].socketId, mover.id);
  assert.equal(nsp.getRoom("a")?.size, 1);
  assert.equal(nsp.getRoom("b")?.size, 1);
});

Deno.test("with rooms.creation explicit a client's join of a missing room is refused with not_found and creates nothing", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/tables", { rooms: { creation: "explicit" } });
  const created: string[] = [];
  nsp.on("room_created", (room) => void created.push(room.name));
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  const a = await within(c1.of("/tables").ready);
  const b = await within(c2.of("/tables").ready);
  const error = await rejection(a.join("t1"), JoinError);
  assert.equal(error.code, "not_found");
  assert.equal(error.room, "t1");
  assert.equal(nsp.getRoom("t1"), undefined);
  assert.deepEqual(created, []);
  const joined = await within(a.createRoom("t1", { capacity: 4 }));
  assert.equal(joined?.room, "t1");
  assert.equal(joined?.capacity, 4);
  assert.equal((await within(b.join("t1"))).memberCount, 2);
  // The server's own join creates.
  serverSide(nsp, b).join("t2");
  assert.equal(nsp.getRoom("t2")?.size, 1);
  assert.deepEqual(created, ["t1", "t2"]);
  await assertRoomHears(nsp, "t1", [a]);
});
