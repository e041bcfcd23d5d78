/**
 * Switching rooms in one step (`join(room, { leave })`) over real loopback: the switcher is told
 * once, members of both rooms see one `member_moved`, members of one room see it leave or enter,
 * and no one — not even with broadcasts to the old room in flight — sees it in both rooms or in
 * neither. A refused switch changes nothing.
 */

import assert from "node:assert/strict";
import type { ClientSocket, JoinedRoom, MovedMember } from "../client.ts";
import { JoinError, type RoomMember } from "../mod.ts";
import type { ServerSocket } from "../server.ts";
import { connectClient, startServer, type TestClient, type TestServer } from "./harness.ts";
import { eventOf, home, rejection, serverSide, within } from "./within.ts";

/** Records every room-related event a socket hears, as text. */
function journal(socket: ClientSocket): string[] {
  const log: string[] = [];
  socket.on("member_entered", (m: RoomMember) => void log.push(`entered ${m.room} ${m.socketId}`));
  socket.on("member_left", (m: RoomMember) => void log.push(`left ${m.room} ${m.socketId}`));
  socket.on("member_moved", (m: MovedMember) => {
    log.push(`moved ${m.from}>${m.to} ${m.socketId} #${m.playerId}`);
  });
  socket.on("room_joined", (room: string) => void log.push(`I joined ${room}`));
  socket.on("room_left", (room: string) => void log.push(`I left ${room}`));
  return log;
}

/** Waits until everything the server sent each socket before now has arrived. */
async function settle(pairs: [ServerSocket, ClientSocket][]): Promise<void> {
  const markers = pairs.map(([, client]) => eventOf(client, "marker"));
  for (const [server] of pairs) server.emit("marker");
  await Promise.all(markers);
}

/**
 * Four players of `/home`, each on a connection of its own: one only in a, one only in b, one in
 * both, and the switcher in a. Disposing of it closes their clients.
 */
async function fourPlayers(test: TestServer) {
  const clients: TestClient[] = [];
  for (let i = 0; i < 4; i++) clients.push(await connectClient(test.port));
  const sockets = await Promise.all(clients.map((client) => home(client)));
  const [onlyA, onlyB, both, mover] = sockets as [
    ClientSocket,
    ClientSocket,
    ClientSocket,
    ClientSocket,
  ];
  await within(onlyA.join("a"));
  await within(onlyB.join("b", { player: "bea" }));
  await within(both.join("a"));
  await within(both.join("b"));
  await within(mover.join("a", { player: "mo" }));
  return {
    onlyA,
    onlyB,
    both,
    mover,
    async [Symbol.asyncDispose]() {
      for (const client of clients) await client.close();
    },
  };
}

Deno.test("A switch moves the socket in one step: it is told once, members of both rooms see one member_moved, of one room a leave or an entry", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using players = await fourPlayers(test);
  const { onlyA, onlyB, both, mover } = players;
  const logs = [onlyA, onlyB, both, mover].map(journal);
  const joinedEvent = eventOf<[string, JoinedRoom]>(mover, "room_joined");

  const joined = await within(mover.join("b", { leave: "a", player: "mo" }));
  assert.equal(joined.left, "a");
  assert.equal(joined.room, "b");
  assert.equal(joined.playerId, 3, "b's players 1 and 2 are bea and the one in both");
  assert.deepEqual(joined.members.map((m) => m.socketId), [onlyB.id, both.id, mover.id]);
  assert.deepEqual((await joinedEvent)[1], joined);
  assert.deepEqual([...mover.rooms], ["b"]);
  assert.deepEqual(
    [...serverSide(nsp, mover).rooms].sort(),
    [mover.id!, "b"].sort(),
  );

  await settle([onlyA, onlyB, both, mover].map((s) => [serverSide(nsp, s), s]));
  const [aLog, bLog, bothLog, moverLog] = logs;
  assert.deepEqual(aLog, [`left a ${mover.id}`]);
  assert.deepEqual(bLog, [`entered b ${mover.id}`]);
  assert.deepEqual(bothLog, [`moved a>b ${mover.id} #3`], "one event, never in both nor neither");
  assert.deepEqual(moverLog, ["I left a", "I joined b"]);
  assert.equal(nsp.getRoom("a")?.members.has(mover.id!), false);
  assert.equal(nsp.getRoom("b")?.members.get(mover.id!)?.player, "mo");
});

Deno.test("A refused switch changes nothing: the socket stays in the room it would have left, and no one is told anything", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using players = await fourPlayers(test);
  const { onlyA, onlyB, both, mover } = players;
  nsp.getRoom("b")!.update({ capacity: 2 });
  const logs = [onlyA, onlyB, both, mover].map(journal);

  const full = await rejection(mover.join("b", { leave: "a" }), JoinError);
  assert.equal(full.code, "full");
  const locked = nsp.getRoom("b")!;
  locked.update({ capacity: null, key: "k" });
  const wrongKey = await rejection(mover.join("b", { leave: "a", key: "nope" }), JoinError);
  assert.equal(wrongKey.code, "wrong_key");

  await settle([onlyA, onlyB, both, mover].map((s) => [serverSide(nsp, s), s]));
  assert.deepEqual(logs, [[], [], [], []]);
  assert.deepEqual([...mover.rooms], ["a"]);
  assert.equal(nsp.getRoom("a")?.members.get(mover.id!)?.playerId, 3);
  // The old room still reaches it.
  const heard = eventOf<[number, { room?: string }]>(mover, "news");
  nsp.to("a").emit("news", 1);
  const [data, info] = await heard;
  assert.equal(data, 1);
  assert.equal(info.room, "a");
});

Deno.test("Switching while broadcasts to the old room are in flight: the switcher hears the old room up to its move and never after, and no member sees it in both rooms or in neither", async () => {
  await using test = await startServer({ rateLimit: false });
  const nsp = test.server.of("/home");
  await using players = await fourPlayers(test);
  const { onlyA, onlyB, both, mover } = players;

  // The observer in both rooms keeps the rooms' rosters from what it hears, checking after every
  // event that the switcher is in exactly one of them.
  const rosters = new Map<string, Set<string>>([
    ["a", new Set([onlyA.id!, both.id!, mover.id!])],
    ["b", new Set([onlyB.id!, both.id!])],
  ]);
  const seen: string[] = [];
  const check = () => {
    const places = [...rosters].filter(([, ids]) => ids.has(mover.id!)).map(([room]) => room);
    seen.push(places.join("+") || "neither");
  };
  both.on("member_entered", (m) => void (rosters.get(m.room)?.add(m.socketId), check()));
  both.on("member_left", (m) => void (rosters.get(m.room)?.delete(m.socketId), check()));
  both.on("member_moved", (m) => {
    rosters.get(m.from)?.delete(m.socketId);
    rosters.get(m.to)?.add(m.socketId);
    check();
  });
  // Every tick the switcher hears must arrive while it is in `a`, in order, with no gap.
  const ticks: number[] = [];
  const outOfPlace: number[] = [];
  mover.on("tick", (data) => {
    const n = data as number;
    ticks.push(n);
    if (!mover.rooms.has("a")) outOfPlace.push(n);
  });
  const lastTick = eventOf<[number]>(onlyA, "tick-done");

  // The server broadcasts to `a` on every turn of its event loop while the switch is asked for.
  const total = 400;
  let sent = 0;
  const broadcasting = (async () => {
    for (; sent < total; sent++) {
      nsp.to("a").emit("tick", sent);
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
    }
    nsp.to("a").emit("tick-done", sent);
  })();
  const switchAt = await within(
    new Promise<number>((resolve) => {
      mover.on("tick", (data) => {
        if (data === 50) resolve(data);
      });
    }),
    "the 50th tick",
  );
  const moved = await within(mover.join("b", { leave: "a" }));
  assert.equal(moved.left, "a");
  await within(broadcasting, "the broadcasts", 10_000);
  await lastTick;
  await settle([both, mover].map((s) => [serverSide(nsp, s), s]));

  assert.ok(switchAt === 50);
  assert.deepEqual(outOfPlace, [], "no tick of `a` reached the switcher after it left `a`");
  assert.deepEqual(ticks, ticks.map((_, i) => i), "the ticks it heard are 0..k with no gap");
  assert.ok(ticks.length > 50 && ticks.length < total, `${ticks.length} ticks heard`);
  assert.deepEqual(seen, ["b"], "the observer in both rooms saw one move, a to b");
  assert.deepEqual([...mover.rooms], ["b"]);
});
