/**
 * Broadcasts over real loopback: a frame is encoded once per broadcast whatever the number of
 * recipients and whatever channel each connection gave the namespace, and what is emitted in one
 * tick leaves each connection in one write.
 */

import assert from "node:assert/strict";
import type { ClientSocket } from "../client.ts";
import { GameSocketServer, type GameSocketServerOptions, type ServerSocket } from "../server.ts";
import type { EventInfo } from "../session/event_map.ts";
import { connectClient, startServer, type TestClient } from "./harness.ts";
import { EVENT_DEADLINE, within } from "./within.ts";

/** No heartbeat falls inside a test, so every write counted is one the test caused. */
const QUIET: GameSocketServerOptions = {
  heartbeatInterval: 60_000,
  heartbeatTimeout: 120_000,
  sendRoomEvents: false,
};

/** The events of one name a client socket received, with a bounded wait for a count of them. */
class Received {
  readonly values: unknown[] = [];
  readonly infos: EventInfo[] = [];
  #event: string;
  #waiters: { count: number; resolve: () => void }[] = [];

  constructor(socket: ClientSocket, event: string) {
    this.#event = event;
    socket.on(event, (data, info) => {
      this.values.push(data);
      this.infos.push(info);
      this.#waiters = this.#waiters.filter((w) => {
        if (this.values.length < w.count) return true;
        w.resolve();
        return false;
      });
    });
  }

  /** Resolves once `count` events arrived; rejects when they take longer than `ms`. */
  until(count: number, ms = EVENT_DEADLINE): Promise<void> {
    if (this.values.length >= count) return Promise.resolve();
    const arrived = new Promise<void>((resolve) => this.#waiters.push({ count, resolve }));
    return within(arrived, `${count} "${this.#event}" events`, ms);
  }
}

/** Clients connected to `/home` and joined to `room`, closed together with `await using`. */
interface Members extends AsyncDisposable {
  readonly clients: TestClient[];
  readonly sockets: ClientSocket[];
  readonly state: Received[];
}

async function joinMembers(port: number, count: number): Promise<Members> {
  const clients: TestClient[] = [];
  const members: Members = {
    clients,
    sockets: [],
    state: [],
    [Symbol.asyncDispose]: async () => {
      await Promise.all(clients.map((client) => client.close()));
    },
  };
  try {
    for (let i = 0; i < count; i++) {
      const client = await connectClient(port);
      clients.push(client);
      const home = await client.of("/home").ready;
      members.sockets.push(home);
      members.state.push(new Received(home, "state"));
      await home.join("room");
    }
  } catch (error) {
    await members[Symbol.asyncDispose]();
    throw error;
  }
  return members;
}

/** Resolves when nothing is queued or in flight to any of `sockets`, so `writes` is settled. */
async function settled(sockets: Iterable<ServerSocket>, ms = 2000): Promise<void> {
  const deadline = performance.now() + ms;
  const list = [...sockets];
  while (list.some((socket) => socket.connection.transport.queuedBytes > 0)) {
    if (performance.now() > deadline) throw new Error(`Writes still in flight after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

Deno.test("A broadcast to a room of 20 encodes its frame once and reaches every member", async () => {
  await using test = await startServer(QUIET);
  const home = test.server.of("/home");
  await using members = await joinMembers(test.port, 20);
  assert.equal(home.to("room").socketIds().length, 20);

  const payload = {
    tick: 1,
    players: Array.from({ length: 8 }, (_, i) => ({ id: i, x: i * 1.5 })),
  };
  const before = test.server.stats.framesEncoded;
  const result = home.to("room").emit("state", payload);

  assert.equal(test.server.stats.framesEncoded - before, 1);
  assert.deepEqual(result, { sent: 20, sentUdp: 0, dropped: 0, overflowed: 0, unavailable: 0 });
  await Promise.all(members.state.map((received) => received.until(1)));
  for (const received of members.state) {
    assert.deepEqual(received.values, [payload]);
    assert.equal(received.infos[0]!.room, "room");
  }
});

Deno.test("Events broadcast to a room in one tick leave each member's connection in one write", async () => {
  await using test = await startServer(QUIET);
  const home = test.server.of("/home");
  await using members = await joinMembers(test.port, 20);
  const sockets = [...home.sockets.values()];
  assert.equal(sockets.length, 20);

  // The first broadcast of "state" declares its name to each connection; get that done first.
  home.to("room").emit("state", { tick: 0 });
  await Promise.all(members.state.map((received) => received.until(1)));
  await settled(sockets);
  const writesBefore = sockets.map((socket) => socket.connection.transport.stats.writes);
  const encodedBefore = test.server.stats.framesEncoded;

  for (let tick = 1; tick <= 5; tick++) home.to("room").emit("state", { tick });

  assert.equal(test.server.stats.framesEncoded - encodedBefore, 5);
  await Promise.all(members.state.map((received) => received.until(6)));
  await settled(sockets);
  const ticks = [0, 1, 2, 3, 4, 5].map((tick) => ({ tick }));
  for (const received of members.state) assert.deepEqual(received.values, ticks);
  const writesAdded = sockets.map((socket, i) =>
    socket.connection.transport.stats.writes - writesBefore[i]!
  );
  assert.deepEqual(writesAdded, sockets.map(() => 1));
});

Deno.test("A broadcast reaches a namespace open on different channels of different connections with one encode", async () => {
  await using test = await startServer(QUIET);
  test.server.of("/a");
  const home = test.server.of("/home");

  // One client opens /a first, so /home is its channel 2; the others open /home on channel 1.
  await using first = await connectClient(test.port);
  await first.of("/a").ready;
  const firstHome = await first.of("/home").ready;
  await using second = await connectClient(test.port);
  const secondHome = await second.of("/home").ready;
  await using third = await connectClient(test.port);
  const thirdHome = await third.of("/home").ready;
  const homes = [firstHome, secondHome, thirdHome];
  const received = homes.map((socket) => new Received(socket, "state"));
  for (const socket of homes) await socket.join("room");

  assert.deepEqual(homes.map((socket) => socket.channel), [2, 1, 1]);
  const serverChannels = homes.map((socket) => home.sockets.get(socket.id!)!.channel);
  assert.deepEqual(serverChannels, [2, 1, 1]);

  const payload = { tick: 7, name: "channel test", data: [1, 2, 3] };
  const before = test.server.stats.framesEncoded;
  assert.deepEqual(home.to("room").emit("state", payload), {
    sent: 3,
    sentUdp: 0,
    dropped: 0,
    overflowed: 0,
    unavailable: 0,
  });
  // The same frame, re-channelled by copy rather than encoded again, for the other channel id.
  assert.equal(test.server.stats.framesEncoded - before, 1);

  await Promise.all(received.map((r) => r.until(1)));
  for (const r of received) {
    assert.deepEqual(r.values, [payload]);
    assert.equal(r.infos[0]!.room, "room");
  }
});

Deno.test("With a send tick, events emitted over several event-loop turns leave in one write", async () => {
  await using test = await startServer({ ...QUIET, sendTick: 100 });
  const home = test.server.of("/home");
  await using members = await joinMembers(test.port, 3);
  const sockets = [...home.sockets.values()];
  home.to("room").emit("state", { tick: 0 });
  await Promise.all(members.state.map((received) => received.until(1)));
  await settled(sockets);
  const writesBefore = sockets.map((socket) => socket.connection.transport.stats.writes);

  // Three turns of the event loop, well inside one 100 ms tick.
  for (let tick = 1; tick <= 3; tick++) {
    home.to("room").emit("state", { tick });
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.ok(sockets.every((socket) => socket.connection.transport.queuedBytes > 0), "held");
  await Promise.all(members.state.map((received) => received.until(4)));
  await settled(sockets);
  for (const received of members.state) {
    assert.deepEqual(received.values, [0, 1, 2, 3].map((tick) => ({ tick })));
  }
  const writesAdded = sockets.map((socket, i) =>
    socket.connection.transport.stats.writes - writesBefore[i]!
  );
  assert.deepEqual(writesAdded, [1, 1, 1]);
});

Deno.test("sendTick is checked: a negative or fractional tick is a RangeError", () => {
  assert.throws(() => new GameSocketServer({ sendTick: -1 }), RangeError);
  assert.throws(() => new GameSocketServer({ sendTick: 2.5 }), RangeError);
});
