/**
 * Room listings over real loopback sockets: pages and filters (`listRooms` on the client and
 * `nsp.listRooms` on the server give the same), hidden rooms, connections that were not let in,
 * and watching the listing (`watchRooms`) with its changes gathered over `listingInterval`.
 */

import assert from "node:assert/strict";
import { Connect, encodeFrame, ErrorCode, Ping, Pong, RoomListRequest } from "../protocol/mod.ts";
import type { RoomFilter, RoomInfo } from "../server.ts";
import { type ClientSocket, ConnectError, SocketClosedError } from "../client.ts";
import { connectClient, startServer } from "./harness.ts";
import { assertRoomHears, homePair } from "./room_probes.ts";
import { assertEchoes, eventOf, home, nextFrame, rejection, restFrames, within } from "./within.ts";
import { assertErrorFrame, handshakenPeer, startEchoServer } from "./server_probes.ts";

/** Every page of a listing, following `next` until there is none. */
async function allPages(
  list: (filter: RoomFilter) => Promise<{ rooms: RoomInfo[]; next?: string }>,
  filter: RoomFilter,
): Promise<string[][]> {
  const pages: string[][] = [];
  let after: string | undefined;
  do {
    const page = await within(list(after === undefined ? filter : { ...filter, after }));
    pages.push(page.rooms.map((room) => room.name));
    after = page.next;
    assert.ok(pages.length <= 20, "paging does not end");
  } while (after !== undefined);
  return pages;
}

/** Records what a socket hears of the listing, as `listed name n` and `unlisted name`. */
function recordListing(socket: ClientSocket): string[] {
  const told: string[] = [];
  socket.on("room_listed", (room) => void told.push(`listed ${room.name} ${room.members}`));
  socket.on("room_unlisted", (name) => void told.push(`unlisted ${name}`));
  return told;
}

/** The next `room_listed` of a room, skipping others. */
function listingOf(socket: ClientSocket, name: string): Promise<RoomInfo> {
  return within(
    new Promise((resolve) => {
      const listener = (room: RoomInfo) => {
        if (room.name !== name) return;
        socket.off("room_listed", listener);
        resolve(room);
      };
      socket.on("room_listed", listener);
    }),
    `the listing of ${name}`,
  );
}

/** Watches the listing, and waits until the server has heard so (a list answers after it). */
async function watching(socket: ClientSocket): Promise<void> {
  socket.watchRooms();
  await within(socket.listRooms({ limit: 1 }), "a list after watching");
}

Deno.test("listRooms gives each listed room's members, capacity, metadata and lock in name order, as nsp.listRooms does", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  nsp.createRoom("charlie", { capacity: 4, metadata: { map: "dust", mode: "ctf" } });
  nsp.createRoom("alpha", { key: "s3cret", metadata: { map: "ice" } });
  nsp.createRoom("bravo");
  nsp.createRoom("backroom", { hidden: true, metadata: { map: "ice" } });
  await using pair = await homePair(test);
  const [player, reader] = pair;
  await within(player.join("charlie"));
  await within(player.join("alpha", { key: "s3cret" }));
  await within(player.join("backroom"));

  const page = await within(reader.listRooms());
  assert.deepEqual(page, {
    rooms: [
      { name: "alpha", members: 1, metadata: { map: "ice" }, locked: true },
      { name: "bravo", members: 0, metadata: {}, locked: false },
      {
        name: "charlie",
        members: 1,
        capacity: 4,
        metadata: { map: "dust", mode: "ctf" },
        locked: false,
      },
    ],
  });
  assert.equal("next" in page, false, "one page holds them all");
  assert.equal(JSON.stringify(page).includes("s3cret"), false, "a key is never listed");
  assert.deepEqual(nsp.listRooms(), page);
});

Deno.test("listRooms pages with limit and next give every listed room exactly once", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  const names = Array.from({ length: 11 }, (_, i) => `room-${String(i).padStart(2, "0")}`);
  // Created out of order, with hidden rooms among them (first, between, last).
  for (const name of [...names].reverse()) nsp.createRoom(name);
  for (const name of ["room-", "room-04h", "room-07h", "room-99"]) {
    nsp.createRoom(name, { hidden: true });
  }
  await using client = await connectClient(test.port);
  const socket = await home(client);

  const pages = await allPages((filter) => socket.listRooms(filter), { limit: 4 });
  assert.deepEqual(pages, [names.slice(0, 4), names.slice(4, 8), names.slice(8)]);
  assert.deepEqual(pages.flat(), names);
  const onServer = await allPages((filter) => Promise.resolve(nsp.listRooms(filter)), {
    limit: 4,
  });
  assert.deepEqual(onServer, pages);
  // A page after any name starts at the next listed name.
  const after = await within(socket.listRooms({ after: "room-04", limit: 2 }));
  assert.deepEqual(after, {
    rooms: nsp.listRooms({ after: "room-04", limit: 2 }).rooms,
    next: "room-06",
  });
  assert.deepEqual(after.rooms.map((room) => room.name), ["room-05", "room-06"]);
});

Deno.test("listRooms filters by name prefix, free seats and metadata entries, and never shows hidden rooms", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  nsp.createRoom("ctf-1", { capacity: 1, metadata: { mode: "ctf", map: "dust" } });
  nsp.createRoom("ctf-2", { capacity: 2, metadata: { mode: "ctf", map: "ice" } });
  nsp.createRoom("ctf-secret", {
    capacity: 8,
    hidden: true,
    metadata: { mode: "ctf", map: "ice" },
  });
  nsp.createRoom("dm-1", { metadata: { mode: "dm", ranked: true } });
  nsp.createRoom("dm-2", { metadata: { mode: "dm", ranked: false, map: null } });
  await using pair = await homePair(test);
  const [player, reader] = pair;
  await within(player.join("ctf-1"));
  await within(player.join("ctf-2"));

  const cases: [RoomFilter, string[]][] = [
    [{ prefix: "ctf-" }, ["ctf-1", "ctf-2"]],
    [{ available: true }, ["ctf-2", "dm-1", "dm-2"]],
    [{ prefix: "ctf-", available: true }, ["ctf-2"]],
    [{ metadata: { mode: "dm" } }, ["dm-1", "dm-2"]],
    [{ metadata: { mode: "dm", ranked: true } }, ["dm-1"]],
    [{ metadata: { map: "ice" } }, ["ctf-2"]],
    [{ metadata: { map: null } }, ["dm-2"]],
    [{ metadata: { mode: "race" } }, []],
    [{ prefix: "ctf-s" }, []],
  ];
  for (const [filter, expected] of cases) {
    const page = await within(reader.listRooms(filter));
    assert.deepEqual(page.rooms.map((room) => room.name), expected, JSON.stringify(filter));
    assert.deepEqual(nsp.listRooms(filter), page, JSON.stringify(filter));
  }
});

Deno.test("a hidden room is joined by name yet never listed, to the client nor to nsp.listRooms", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using pair = await homePair(test);
  const [host, guest] = pair;
  await within(host.createRoom("hideout", { hidden: true, metadata: { mode: "dm" } }));
  const joined = await within(guest.join("hideout"));
  assert.equal(joined.memberCount, 2);
  assert.equal(nsp.getRoom("hideout")?.hidden, true);
  nsp.createRoom("plaza");
  nsp.getRoom("plaza")!.update({ hidden: true });
  for (const filter of [{}, { prefix: "h" }, { metadata: { mode: "dm" } }, { available: true }]) {
    assert.deepEqual(await within(guest.listRooms(filter)), { rooms: [] });
    assert.deepEqual(nsp.listRooms(filter), { rooms: [] });
  }
  await assertRoomHears(nsp, "hideout", [host]);
});

Deno.test("a limit outside 1..100 is a RangeError on either side, and listing carries on", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using pair = await homePair(test);
  const [witness, socket] = pair;
  await within(witness.join("lobby"));
  for (const limit of [0, 101, 1.5, -1, Number.NaN]) {
    await assert.rejects(async () => await socket.listRooms({ limit }), RangeError, `${limit}`);
    assert.throws(() => nsp.listRooms({ limit }), RangeError, `${limit}`);
  }
  for (const limit of [1, 100]) {
    assert.deepEqual(await within(socket.listRooms({ limit })), nsp.listRooms({ limit }));
  }
  assert.equal(nsp.listRooms({ limit: 1 }).rooms[0]?.name, "lobby");
  await assertRoomHears(nsp, "lobby", [witness]);
});

Deno.test("a connect refused by the namespace's middleware lists nothing: ready rejects, then listRooms", async () => {
  await using test = await startEchoServer();
  const nsp = test.server.of("/home");
  nsp.createRoom("open-table");
  nsp.use(() => "No");
  await using client = await connectClient(test.port);
  const denied = client.of("/home");
  const error = await rejection(denied.ready, ConnectError);
  assert.equal(error.code, "unauthorized");
  assert.equal(error.message, "No");
  await rejection(denied.listRooms(), SocketClosedError);
  denied.watchRooms();
  assert.equal(denied.watchingRooms, false);
  assert.equal(nsp.sockets.size, 0);
  await assertEchoes(client, 1);
});

Deno.test("a RoomListRequest on a channel with no namespace open closes the connection with ProtocolViolation", async () => {
  await using test = await startEchoServer();
  const nsp = test.server.of("/home");
  nsp.createRoom("open-table");
  nsp.use(() => "No");
  await using witness = await connectClient(test.port);
  // Channel 1 was refused; channel 5 was never asked for.
  for (const [channel, connectFirst] of [[1, true], [5, false]] as const) {
    const { peer, gone } = await handshakenPeer(test);
    await using _peer = peer;
    if (connectFirst) {
      await peer.write(encodeFrame(Connect, { namespace: "/home", channel }));
      const refusal = assertErrorFrame(await nextFrame(peer), ErrorCode.Unauthorized);
      assert.equal(refusal.namespace, "/home");
    }
    await peer.write(encodeFrame(RoomListRequest, { requestId: 1 }, { channel }));
    assert.deepEqual(await within(gone, "the disconnect"), ["protocol error"]);
    assertErrorFrame(await nextFrame(peer), ErrorCode.ProtocolViolation);
    assert.deepEqual(await restFrames(peer), [], "no RoomList, nothing after the error");
    await assertEchoes(witness, channel);
  }
});

Deno.test("a RoomListRequest while the namespace's middleware decides is not answered", async () => {
  await using test = await startEchoServer();
  const decide = Promise.withResolvers<string>();
  const vip = test.server.of("/vip").use(() => decide.promise);
  vip.createRoom("lounge");
  await using witness = await connectClient(test.port);
  const { peer } = await handshakenPeer(test);
  await using _peer = peer;
  await peer.write(encodeFrame(Connect, { namespace: "/vip", channel: 1 }));
  await peer.write(encodeFrame(RoomListRequest, { requestId: 1 }, { channel: 1 }));
  await peer.write(encodeFrame(Ping, { timestamp: 7 }));
  const pong = await nextFrame(peer);
  assert.ok(pong?.type === "control" && pong.schema === Pong, `got ${pong?.type}`);
  decide.resolve("No");
  assertErrorFrame(await nextFrame(peer), ErrorCode.Unauthorized);
  await assertEchoes(witness, 1);
});

Deno.test("watchRooms tells of a listed room's creation, members and lock, then its hiding and deletion", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home", { rooms: { listingInterval: 20 } });
  await using pair = await homePair(test);
  const [watcher, player] = pair;
  await watching(watcher);
  assert.equal(watcher.watchingRooms, true);
  const unlisted = () => eventOf<[string]>(watcher, "room_unlisted");

  let listed = listingOf(watcher, "alpha");
  const alpha = nsp.createRoom("alpha", { capacity: 3, metadata: { map: "ice" } });
  const info = { name: "alpha", capacity: 3, metadata: { map: "ice" }, locked: false };
  assert.deepEqual(await listed, { ...info, members: 0 });
  listed = listingOf(watcher, "alpha");
  await within(player.join("alpha"));
  assert.deepEqual(await listed, { ...info, members: 1 });
  listed = listingOf(watcher, "alpha");
  alpha.update({ key: "k" });
  assert.deepEqual(await listed, { ...info, members: 1, locked: true });

  let gone = unlisted();
  alpha.update({ hidden: true });
  assert.deepEqual(await gone, ["alpha"]);
  listed = listingOf(watcher, "bravo");
  nsp.createRoom("bravo");
  assert.equal((await listed).members, 0);
  gone = unlisted();
  assert.equal(nsp.deleteRoom("bravo"), true);
  assert.deepEqual(await gone, ["bravo"]);
  await assertRoomHears(nsp, "alpha", [player]);
});

Deno.test("changes to a room within listingInterval reach a watcher as one listing", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home", { rooms: { listingInterval: 200 } });
  await using watcherClient = await connectClient(test.port);
  const watcher = await home(watcherClient);
  const players = [];
  for (let i = 0; i < 5; i++) players.push(await connectClient(test.port));
  try {
    const sockets = await Promise.all(players.map((player) => home(player)));
    await watching(watcher);
    const told = recordListing(watcher);
    let listed = listingOf(watcher, "busy");
    // Five joins in one turn: the room's creation and each join are one listing.
    for (const socket of sockets) nsp.sockets.get(socket.id!)!.join("busy");
    assert.equal((await listed).members, 5);
    // Three leaves, each a round trip of its own, well within the interval.
    listed = listingOf(watcher, "busy");
    for (const socket of sockets.slice(0, 3)) await within(socket.leave("busy"));
    assert.equal((await listed).members, 2);
    // A marker made after: once it is listed, any later listing of busy would have come.
    const marker = listingOf(watcher, "zz-marker");
    nsp.createRoom("zz-marker");
    await marker;
    assert.deepEqual(told, ["listed busy 5", "listed busy 2", "listed zz-marker 0"]);
  } finally {
    for (const player of players) await player.close();
  }
});

Deno.test("a hidden room is never told to watchers, whatever happens to it", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home", { rooms: { listingInterval: 20 } });
  await using pair = await homePair(test);
  const [watcher, player] = pair;
  await watching(watcher);
  const told = recordListing(watcher);
  const secret = nsp.createRoom("secret", { hidden: true });
  await within(player.join("secret"));
  secret.update({ metadata: { map: "ice" }, capacity: 2 });
  await within(player.createRoom("hideout", { hidden: true }));
  await within(player.leave("secret"));
  assert.equal(nsp.getRoom("secret"), undefined, "deleted as it emptied");
  const marker = listingOf(watcher, "zz-marker");
  nsp.createRoom("zz-marker");
  await marker;
  assert.deepEqual(told, ["listed zz-marker 0"]);
  await assertRoomHears(nsp, "hideout", [player]);
});

Deno.test("watchRooms(false) stops the listing for that socket only", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home", { rooms: { listingInterval: 20 } });
  await using pair = await homePair(test);
  const [quitter, stayer] = pair;
  await watching(quitter);
  await watching(stayer);
  const before = [listingOf(quitter, "before"), listingOf(stayer, "before")];
  nsp.createRoom("before");
  await Promise.all(before);

  quitter.watchRooms(false);
  assert.equal(quitter.watchingRooms, false);
  await within(quitter.listRooms(), "a list after unwatching");
  const told = recordListing(quitter);
  const after = listingOf(stayer, "after");
  nsp.createRoom("after");
  await after;
  // Sent after the listing went out: once it arrives, a listing for quitter would have too.
  const marker = eventOf(quitter, "marker");
  nsp.sockets.get(quitter.id!)!.emit("marker");
  await marker;
  assert.deepEqual(told, []);
  nsp.deleteRoom("after");
  assert.deepEqual(await eventOf<[string]>(stayer, "room_unlisted"), ["after"]);
});
