/**
 * The server's limits, each crossed over real loopback sockets: the client (or raw peer) sees
 * the documented error, the server reports the documented reason and `LimitExceededError`, and a
 * well-behaved client on the same server keeps exchanging acknowledged events. The limits on
 * connections in total, frame size and the handshake timeout are in server_faults_test.ts.
 */

import assert from "node:assert/strict";
import {
  encodeFrame,
  ErrorCode,
  EventName,
  LimitExceededError,
  Ping,
  Pong,
} from "../protocol/mod.ts";
import { GameSocketServer } from "../server.ts";
import {
  type ClientSocket,
  ConnectError,
  type DisconnectReason,
  GameSocketClient,
  JoinError,
  SocketClosedError,
} from "../client.ts";
import { connectClient } from "./harness.ts";
import { assertEchoes, eventOf, nextFrame, rejection, restFrames, within } from "./within.ts";
import {
  assertErrorFrame,
  eventFrame,
  handshakenPeer,
  nextClose,
  startEchoServer,
} from "./server_probes.ts";

/** A client that records its `error` events and its `close` reason. */
async function watchedClient(port: number) {
  const client = await connectClient(port);
  const errors: unknown[] = [];
  client.on("error", (error) => errors.push(error));
  const closed = eventOf<[DisconnectReason]>(client, "close");
  return { client, errors, closed };
}

Deno.test("maxConnectionsPerAddress turns the next connection from that address away with limit exceeded", async () => {
  await using test = await startEchoServer({ maxConnectionsPerAddress: 2 });
  await using first = await connectClient(test.port);
  await using second = await connectClient(test.port);
  const turnedAway = nextClose(test.server);
  await using third = new GameSocketClient({ reconnection: false });
  const error = await rejection(third.connect("127.0.0.1", test.port), ConnectError);
  assert.equal(error.code, "limit_exceeded");
  assert.ok(error.cause instanceof LimitExceededError);
  assert.equal(error.cause.limit, "connections_per_address");
  const closed = await within(turnedAway, "connection_closed");
  assert.equal(closed.reason, "limit exceeded");
  assert.equal(closed.address.hostname, "127.0.0.1");
  assert.ok(closed.error instanceof LimitExceededError);
  assert.equal(closed.error.limit, "connections_per_address");
  assert.equal(closed.error.max, 2);
  assert.equal(test.server.stats.refused, 1);
  await assertEchoes(first, 1);
  await assertEchoes(second, 2);
  // A place frees up for the address when one of its connections leaves.
  const released = nextClose(test.server);
  await second.close();
  await within(released, "the release");
  await using fourth = await connectClient(test.port);
  await assertEchoes(fourth, 3);
});

Deno.test("maxNamespaces refuses one namespace too many with limit_exceeded and keeps the connection", async () => {
  await using test = await startEchoServer({ maxNamespaces: 2 });
  for (const name of ["/a", "/b"]) {
    test.server.of(name).on("connection", (socket) => socket.on("echo", (value) => value));
  }
  await using client = await connectClient(test.port);
  const a = await within(client.of("/a").ready, "/a");
  const b = client.of("/b");
  const refused = eventOf<[ConnectError]>(b, "connect_error");
  const [error] = await within(refused, "the refusal");
  assert.equal(error.code, "limit_exceeded");
  assert.ok(error.cause instanceof LimitExceededError);
  assert.equal(error.cause.limit, "namespaces");
  assert.equal(test.server.of("/b").sockets.size, 0);
  // The connection and its namespaces carry on.
  await assertEchoes(client, 1);
  assert.equal(await a.emitWithAck("echo", 2), 2);
  // Leaving one makes room for another.
  const left = eventOf(test.server.of("/a").sockets.values().next().value!, "disconnect");
  a.disconnect();
  await within(left, "/a leaving");
  const again = await within(client.of("/b").ready, "/b");
  assert.equal(await again.emitWithAck("echo", 3), 3);
});

Deno.test("maxRoomsPerSocket refuses a join past it with JoinError limit_exceeded and keeps the socket", async () => {
  await using test = await startEchoServer({ maxRoomsPerSocket: 2 });
  await using client = await connectClient(test.port);
  const root = client.root!;
  await within(root.join("a"), "join a");
  await within(root.join("b"), "join b");
  const error = await rejection(root.join("c"), JoinError);
  assert.equal(error.code, "limit_exceeded");
  assert.equal(error.limit, "rooms");
  assert.equal(error.room, "c");
  const [socket] = test.server.root.sockets.values();
  assert.deepEqual([...socket!.rooms].sort(), [socket!.id, "a", "b"].sort());
  // Leaving a room in the same step makes room; a room it is in is refused as such, not as a
  // room over the limit.
  await within(root.join("c", { leave: "a" }), "join c leaving a");
  assert.equal((await rejection(root.join("b"), JoinError)).code, "already_member");
  assert.deepEqual([...socket!.rooms].sort(), [socket!.id, "b", "c"].sort());
  // The server's own joins are not limited.
  socket!.join(["d", "e"]);
  assert.equal(socket!.rooms.size, 5);
  await assertEchoes(client, 1);
});

Deno.test("maxEventNameLength closes a connection that declares a longer name, counted in UTF-8 bytes", async () => {
  await using test = await startEchoServer({ maxEventNameLength: 8 });
  await using witness = await connectClient(test.port);
  test.server.on("connection", (socket) => socket.on("éééé", () => "fits"));
  const { client, errors, closed } = await watchedClient(test.port);
  await using _client = client;
  // Eight bytes in four characters: at the limit.
  assert.equal(await client.root!.emitWithAck("éééé"), "fits");
  const gone = nextClose(test.server);
  // Five characters, ten bytes: over it.
  client.root!.emit("ééééé");
  assert.deepEqual(await within(closed, "the close"), ["limit exceeded"]);
  const limit = errors.find((e) => e instanceof LimitExceededError);
  assert.ok(limit instanceof LimitExceededError, String(errors));
  assert.equal(limit.limit, "event_name_length");
  const { reason, error } = await within(gone, "connection_closed");
  assert.equal(reason, "limit exceeded");
  assert.ok(error instanceof LimitExceededError);
  assert.equal(error.limit, "event_name_length");
  assert.equal(error.max, 8);
  await assertEchoes(witness, 1);
});

Deno.test("maxPendingAcks closes a connection with one more event awaiting its handler's reply", async () => {
  await using test = await startEchoServer({ maxPendingAcks: 3 });
  await using witness = await connectClient(test.port);
  const release = Promise.withResolvers<void>();
  let started = 0;
  test.server.on("connection", (socket) =>
    socket.on("slow", async () => {
      started++;
      await release.promise;
      return "late";
    }));
  const { client, errors, closed } = await watchedClient(test.port);
  await using _client = client;
  const root = client.root!;
  const gone = nextClose(test.server);
  const pending = [1, 2, 3, 4].map(() => root.emitWithAck("slow"));
  assert.deepEqual(await within(closed, "the close"), ["limit exceeded"]);
  for (const reply of pending) await rejection(reply, SocketClosedError);
  assert.equal(started, 3);
  const limit = errors.find((e) => e instanceof LimitExceededError);
  assert.ok(limit instanceof LimitExceededError, String(errors));
  assert.equal(limit.limit, "pending_acks");
  const { reason, error } = await within(gone, "connection_closed");
  assert.equal(reason, "limit exceeded");
  assert.ok(error instanceof LimitExceededError && error.limit === "pending_acks");
  release.resolve();
  // Replies that arrive once each is answered are not pending: sync handlers never are.
  await assertEchoes(witness, 1);
  for (let i = 0; i < 10; i++) await assertEchoes(witness, i);
});

Deno.test("rateLimit with policy drop drops and counts frames over the bucket, and keeps the connection", async () => {
  await using test = await startEchoServer({
    rateLimit: { frames: 20, frameBurst: 10, bytes: 1_000_000 },
  });
  await using witness = await connectClient(test.port);
  const { peer, socket } = await handshakenPeer(test);
  await using _peer = peer;
  let received = 0;
  socket.on("n", () => void received++);
  // The handshake took none of the peer's tokens. The declaration must pass and takes one; nine
  // are left for the 30 events.
  const started = performance.now();
  await peer.write(
    new Uint8Array([
      ...encodeFrame(EventName, { id: 0, name: "n" }),
      ...Array.from({ length: 30 }, () => [...eventFrame(0)]).flat(),
    ]),
  );
  // Pings over the limit are dropped too: the first pong says everything before it was read.
  let ponged = false;
  const pinging = (async () => {
    for (let i = 0; i < 80 && !ponged; i++) {
      await peer.write(encodeFrame(Ping, { timestamp: i }));
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  let frame = await within(nextFrame(peer), "a pong");
  while (frame?.type === "control" && frame.schema === Ping) {
    frame = await within(nextFrame(peer), "a pong");
  }
  ponged = true;
  await pinging;
  assert.ok(frame?.type === "control" && frame.schema === Pong, "the pong");
  const elapsed = performance.now() - started;
  // At most what refilled meanwhile at 20 a second went to events and pings.
  assert.ok(received >= 9, `received ${received}`);
  assert.ok(received <= 9 + Math.ceil(elapsed / 50), `received ${received} in ${elapsed} ms`);
  assert.ok(socket.stats.rateLimited >= 30 - received, `dropped ${socket.stats.rateLimited}`);
  assert.equal(test.server.stats.rateLimited, socket.stats.rateLimited);
  assert.ok(socket.connected);
  // Other connections have buckets of their own (this one's holds ten frames too).
  for (let i = 0; i < 5; i++) await assertEchoes(witness, i);
});

Deno.test("rateLimit with policy disconnect closes the connection with limit exceeded", async () => {
  await using test = await startEchoServer({
    rateLimit: { frames: 5, frameBurst: 5, policy: "disconnect" },
  });
  await using witness = await connectClient(test.port);
  const { client, errors, closed } = await watchedClient(test.port);
  await using _client = client;
  const gone = nextClose(test.server);
  for (let i = 0; i < 20; i++) client.root!.emit("flood", i);
  assert.deepEqual(await within(closed, "the close"), ["limit exceeded"]);
  const limit = errors.find((e) => e instanceof LimitExceededError);
  assert.ok(limit instanceof LimitExceededError, String(errors));
  assert.equal(limit.limit, "rate");
  const { reason, error } = await within(gone, "connection_closed");
  assert.equal(reason, "limit exceeded");
  assert.ok(error instanceof LimitExceededError && error.limit === "rate");
  assert.equal(error.max, 5);
  // A raw peer is told by an Error frame naming the limit, then the stream ends.
  const { peer } = await handshakenPeer(test);
  await using _peer = peer;
  await peer.write(
    new Uint8Array([
      ...encodeFrame(EventName, { id: 0, name: "flood" }),
      ...Array.from({ length: 10 }, () => [...eventFrame(0)]).flat(),
    ]),
  );
  const frames = await restFrames(peer);
  const told = assertErrorFrame(frames.at(-1), ErrorCode.LimitExceeded);
  assert.equal(told.limit, "rate");
  await assertEchoes(witness, 1);
});

Deno.test("rateLimit false, requireTls and the limits' ranges are checked when the server is made", () => {
  assert.equal(new GameSocketServer({ rateLimit: false }).options.rateLimit, undefined);
  const defaults = new GameSocketServer().options;
  assert.deepEqual(defaults.rateLimit, {
    frames: 1000,
    frameBurst: 2000,
    bytes: 262144,
    byteBurst: 524288,
    policy: "drop",
  });
  assert.equal(defaults.maxConnectionsPerAddress, 256);
  assert.equal(defaults.maxNamespaces, 32);
  assert.equal(defaults.maxRoomsPerSocket, 128);
  assert.equal(defaults.maxEventNameLength, 128);
  assert.equal(defaults.maxPendingAcks, 256);
  assert.equal(defaults.requireTls, false);
  assert.throws(() => new GameSocketServer({ requireTls: true }), TypeError);
  const tls = { cert: "-----BEGIN CERTIFICATE-----", key: "-----BEGIN PRIVATE KEY-----" };
  assert.equal(new GameSocketServer({ requireTls: true, tls }).options.requireTls, true);
  assert.throws(() => new GameSocketServer({ maxNamespaces: 0 }), RangeError);
  assert.throws(() => new GameSocketServer({ rateLimit: { byteBurst: 100 } }), RangeError);
  assert.throws(
    () => new GameSocketServer({ rateLimit: { policy: "ignore" as "drop" } }),
    RangeError,
  );
});

Deno.test("a client closed for a limit does not reconnect", async () => {
  await using test = await startEchoServer({
    rateLimit: { frames: 5, frameBurst: 5, policy: "disconnect" },
  });
  const client = new GameSocketClient();
  await using _client = client;
  client.on("error", () => {});
  let attempts = 0;
  client.on("reconnect_attempt", () => void attempts++);
  await client.connect("127.0.0.1", test.port);
  const closed = eventOf<[DisconnectReason]>(client, "close");
  const root: ClientSocket = client.root!;
  for (let i = 0; i < 20; i++) root.emit("flood", i);
  assert.deepEqual(await within(closed, "the close"), ["limit exceeded"]);
  assert.equal(client.state, "closed");
  assert.equal(attempts, 0);
});
