/**
 * A room seat and session recovery, over real loopback through a relay that cuts connections:
 * within its recovery window a socket keeps its seat and player id (others meet a full room),
 * and once the window passes its seat is given up and its members told.
 */

import assert from "node:assert/strict";
import { GameSocketClient } from "../client.ts";
import { JoinError, type RoomMember } from "../mod.ts";
import type { ServerSocket } from "../server.ts";
import { CuttingTcpRelay } from "./fixtures/cutting_tcp_relay.ts";
import { connectClient, startServer } from "./harness.ts";
import { eventOf, home, rejection, serverSide, within } from "./within.ts";

/** Reconnection that retries at once, so the tests wait for events, not delays. */
const FAST = { firstDelay: 1, maxDelay: 20, randomization: 0 };

Deno.test("A socket within its recovery window keeps its seat and player id; the room stays full for others", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  nsp.createRoom("duo", { capacity: 2 });
  await using relay = CuttingTcpRelay.start({ targetPort: test.port, seed: 8 });
  const away = new GameSocketClient({ reconnection: FAST });
  await using _away = { [Symbol.asyncDispose]: () => away.close() };
  await away.connect("127.0.0.1", relay.port);
  await using stay = await connectClient(test.port);
  await using late = await connectClient(test.port);
  const [cut, keeper, latecomer] = [
    await within(away.of("/home").ready),
    await home(stay),
    await home(late),
  ];
  assert.equal((await within(keeper.join("duo", { player: "kim" }))).playerId, 1);
  assert.equal((await within(cut.join("duo", { player: "cal" }))).playerId, 2);
  const onServer = serverSide(nsp, cut);
  const lost = eventOf(onServer, "disconnect");
  const notTold: RoomMember[] = [];
  keeper.on("member_left", (member) => void notTold.push(member));

  const back = eventOf(cut, "connect");
  const recovered = eventOf(onServer, "recover");
  relay.cutAll();
  await lost;
  assert.equal(onServer.recovering, true);
  assert.equal(nsp.getRoom("duo")?.members.get(cut.id!)?.playerId, 2, "its seat is kept");
  const full = await rejection(latecomer.join("duo"), JoinError);
  assert.equal(full.code, "full");

  await recovered;
  await back;
  assert.deepEqual([...cut.rooms], ["duo"], "the client keeps its room");
  assert.deepEqual(
    [...nsp.getRoom("duo")!.members.values()].map((m) => `${m.player}#${m.playerId}`),
    ["kim#1", "cal#2"],
  );
  // A room broadcast reaches it again, and the keeper was never told it left.
  const heard = eventOf<[string]>(cut, "news");
  nsp.to("duo").emit("news", "back");
  assert.equal((await heard)[0], "back");
  assert.deepEqual(notTold, []);
});

Deno.test("When the recovery window passes, the seat is given up: members see the player leave and its id is free again", async () => {
  await using test = await startServer({ recovery: { window: 50 } });
  const nsp = test.server.of("/home");
  await using relay = CuttingTcpRelay.start({ targetPort: test.port, seed: 9 });
  // It does not come back in time: its reconnection waits longer than the window.
  const away = new GameSocketClient({ reconnection: { firstDelay: 5000, randomization: 0 } });
  await using _away = { [Symbol.asyncDispose]: () => away.close() };
  await away.connect("127.0.0.1", relay.port);
  await using stay = await connectClient(test.port);
  await using next = await connectClient(test.port);
  const [gone, keeper, newcomer] = [
    await within(away.of("/home").ready),
    await home(stay),
    await home(next),
  ];
  await within(gone.join("table"));
  await within(keeper.join("table"));
  const onServer: ServerSocket = serverSide(nsp, gone);
  const left = eventOf<[RoomMember]>(keeper, "member_left");
  const expired = eventOf(onServer, "expired");
  relay.cutAll();
  await expired;
  assert.deepEqual(await left, [{ room: "table", socketId: gone.id, playerId: 1 }]);
  assert.equal((await within(newcomer.join("table"))).playerId, 1, "its id is given again");
});

Deno.test("In a fresh session the client joins its locked room again, with the key and player name it joined with", async () => {
  await using test = await startServer({ recovery: { window: 50 } });
  const nsp = test.server.of("/home");
  nsp.createRoom("vault", { key: "s3cret", capacity: 2 });
  await using relay = CuttingTcpRelay.start({ targetPort: test.port, seed: 10 });
  // Back only after the window: the session is not resumed.
  const client = new GameSocketClient({ reconnection: { firstDelay: 300, randomization: 0 } });
  await using _client = { [Symbol.asyncDispose]: () => client.close() };
  await client.connect("127.0.0.1", relay.port);
  const socket = await within(client.of("/home").ready);
  await within(socket.join("vault", { key: "s3cret", player: "kim" }));
  const oldId = socket.id;
  const expired = eventOf(client, "session_expired");
  const rejoined = within(
    new Promise<void>((resolve) => {
      socket.on("room_joined", (room) => room === "vault" && resolve());
    }),
    "the rejoin",
  );
  relay.cutAll();
  await expired;
  await rejoined;
  assert.notEqual(socket.id, oldId, "a fresh session");
  assert.deepEqual(
    [...nsp.getRoom("vault")!.members.values()].map((m) => `${m.socketId} ${m.player}`),
    [`${socket.id} kim`],
  );
});
