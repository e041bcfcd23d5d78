/**
 * Listing a namespace's rooms as a client: `listAllRooms` follows the pages to the end (within
 * its bound) and leaves nothing open, and `deno task dump --connect --list` prints the rooms, as
 * lines or JSON, filtered on request, and fails clearly when the connect is refused.
 */

import assert from "node:assert/strict";
import { createDemoServer } from "../cli/demo_server.ts";
import { ConnectError, GameSocketClient } from "../client.ts";
import { formatRoomList, listAllRooms } from "../inspect/mod.ts";
import { dumpTaskArgs, run } from "./fixtures/dump_process.ts";
import { startServer } from "./harness.ts";
import { rejection, within } from "./within.ts";

/** A server whose `/lobby` has seven listed rooms and a hidden one, and whose `/vip` says no. */
async function startLobby() {
  const test = await startServer();
  const lobby = test.server.of("/lobby", { rooms: { creation: "explicit" } });
  for (let i = 1; i <= 5; i++) lobby.createRoom(`table-${i}`, { capacity: 2 });
  lobby.createRoom("arena", { capacity: 8, key: "k", metadata: { map: "dust", ranked: true } });
  lobby.createRoom("hall", {});
  lobby.createRoom("secret", { hidden: true });
  test.server.of("/vip").use(() => "Members only");
  return test;
}

Deno.test("listAllRooms follows every page of a namespace's listing, hidden rooms left out", async () => {
  await using test = await startLobby();
  const where = { hostname: "127.0.0.1", port: test.port, namespace: "/lobby" };
  const rooms = await within(listAllRooms({ ...where, pageSize: 3 }), "the listing");
  assert.deepEqual(rooms.map((room) => room.name), [
    "arena",
    "hall",
    "table-1",
    "table-2",
    "table-3",
    "table-4",
    "table-5",
  ]);
  assert.deepEqual(rooms[0], {
    name: "arena",
    members: 0,
    capacity: 8,
    metadata: { map: "dust", ranked: true },
    locked: true,
  });
  assert.deepEqual(rooms, test.server.of("/lobby").listRooms({ limit: 100 }).rooms);

  const tables = await within(listAllRooms({ ...where, prefix: "table-", pageSize: 2 }));
  assert.equal(tables.length, 5);
  // Two players fill table-1: `available` leaves it out.
  await using ann = new GameSocketClient();
  await ann.connect("127.0.0.1", test.port);
  await within((await within(ann.of("/lobby").ready)).join("table-1"));
  await using bob = new GameSocketClient();
  await bob.connect("127.0.0.1", test.port);
  await within((await within(bob.of("/lobby").ready)).join("table-1"));
  const available = await within(listAllRooms({ ...where, prefix: "table-", available: true }));
  assert.deepEqual(available.map((room) => room.name), [
    "table-2",
    "table-3",
    "table-4",
    "table-5",
  ]);
});

Deno.test("listAllRooms fails past maxPages, on a refused connect, and on a bad page size", async () => {
  await using test = await startLobby();
  const where = { hostname: "127.0.0.1", port: test.port, namespace: "/lobby" };
  const long = await rejection(listAllRooms({ ...where, pageSize: 2, maxPages: 3 }), RangeError);
  assert.match(long.message, /go on past 3 pages of 2/);
  // Exactly enough pages is fine.
  assert.equal((await within(listAllRooms({ ...where, pageSize: 2, maxPages: 4 }))).length, 7);

  const refused = await rejection(listAllRooms({ ...where, namespace: "/vip" }), ConnectError);
  assert.equal(refused.code, "unauthorized");
  assert.equal(refused.message, "Members only");
  const unknown = await rejection(listAllRooms({ ...where, namespace: "/nowhere" }), ConnectError);
  assert.equal(unknown.code, "invalid_namespace");
  await rejection(listAllRooms({ ...where, pageSize: 101 }), RangeError);
  await rejection(listAllRooms({ ...where, maxPages: 0 }), RangeError);
});

Deno.test("formatRoomList aligns name, members/capacity, lock and metadata", () => {
  assert.deepEqual(
    formatRoomList([
      { name: "arena", members: 3, capacity: 8, metadata: { map: "dust" }, locked: true },
      { name: "hall", members: 1, metadata: {}, locked: false },
      { name: "table-10", members: 0, capacity: 2, metadata: {}, locked: false },
    ]),
    [
      'arena     3/8 members  locked  {"map":"dust"}',
      "hall      1 member     open    {}",
      "table-10  0/2 members  open    {}",
    ],
  );
  assert.deepEqual(formatRoomList([]), []);
});

Deno.test("deno task dump --list prints the lobby's rooms, as lines or JSON, and exits 0", async () => {
  const demo = createDemoServer({ hostname: "127.0.0.1", port: 0, log: () => {} });
  const { port } = await demo.listen();
  await using _demo = { [Symbol.asyncDispose]: () => demo.close() };
  await using ann = new GameSocketClient();
  await ann.connect("127.0.0.1", port);
  const lobby = await within(ann.of("/lobby").ready);
  await within(
    lobby.createRoom("duel", {
      capacity: 2,
      key: "s3cret",
      metadata: { map: "dust" },
      leave: "hall",
    }),
  );
  const task = await dumpTaskArgs();
  const connect = ["--connect", `127.0.0.1:${port}`, "--ns", "/lobby", "--list"];
  // One after another: each listing client lands in the hall while it lists, as every socket of
  // /lobby does, and counts in it.
  const text = await run([...task, ...connect]);
  const json = await run([...task, ...connect, "--json"]);
  const filtered = await run([...task, ...connect, "--prefix", "h", "--available"]);
  assert.equal(text.code, 0, text.stderr);
  assert.deepEqual(text.lines, [
    'duel  1/2 members  locked  {"map":"dust"}',
    "hall  1 member     open    {}",
    "2 rooms in /lobby",
  ]);

  assert.equal(json.code, 0, json.stderr);
  const objects = json.lines.map((line) => JSON.parse(line));
  assert.deepEqual(objects[0], {
    name: "duel",
    members: 1,
    capacity: 2,
    metadata: { map: "dust" },
    locked: true,
  });
  assert.deepEqual(objects.map((room) => room.name), ["duel", "hall"]);

  assert.equal(filtered.code, 0, filtered.stderr);
  assert.deepEqual(filtered.lines, ["hall  1 member  open    {}", "1 room in /lobby"]);
});

Deno.test("deno task dump --list exits 1 with the reason when the connect is refused", async () => {
  await using test = await startLobby();
  const task = await dumpTaskArgs();
  const [vip, nowhere, closed] = await Promise.all([
    run([...task, "--connect", `127.0.0.1:${test.port}`, "--ns", "/vip", "--list"]),
    run([...task, "--connect", `127.0.0.1:${test.port}`, "--ns", "/nowhere", "--list"]),
    run([...task, "--connect", "127.0.0.1:1", "--list"]),
  ]);
  assert.equal(vip.code, 1);
  assert.deepEqual(vip.lines, []);
  assert.match(vip.stderr, /^error: cannot connect \/vip: Members only \(unauthorized\)$/m);
  assert.equal(nowhere.code, 1);
  assert.match(
    nowhere.stderr,
    /cannot connect \/nowhere: .*does not exist.* \(invalid_namespace\)/,
  );
  assert.equal(closed.code, 1);
  assert.match(closed.stderr, /^error: cannot connect 127\.0\.0\.1:1: .* \(transport\)$/m);
});

Deno.test("deno task dump --list refuses flags of other modes with exit status 2", async () => {
  const task = await dumpTaskArgs();
  const runs = await Promise.all([
    run([...task, "--connect", "127.0.0.1:3103", "--list", "--join", "lobby"]),
    run([...task, "--connect", "127.0.0.1:3103", "--prefix", "t"]),
    run([...task, "--list"]),
    run([...task, "--connect", "127.0.0.1:3103", "--key", "k"]),
  ]);
  assert.deepEqual(runs.map((run) => run.code), [2, 2, 2, 2]);
  assert.match(runs[0]!.stderr, /--list goes without --join/);
  assert.match(runs[1]!.stderr, /--prefix and --available go with --list/);
  assert.match(runs[2]!.stderr, /belong to client mode/);
  assert.match(runs[3]!.stderr, /--key and --player go with --join/);
});
