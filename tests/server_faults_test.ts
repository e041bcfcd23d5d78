/**
 * Bad input and faults on the server, over real loopback sockets: every fault closes (or
 * refuses) only the connection that caused it, with a typed reason, while a well-behaved client
 * on the same server keeps exchanging acknowledged events.
 */

import assert from "node:assert/strict";
import {
  Connect,
  defineSchema,
  encodeFrame,
  ErrorCode,
  EventName,
  Handshake,
  LimitExceededError,
  Ping,
  PROTOCOL_VERSION,
  SchemaRegistry,
} from "../protocol/mod.ts";
import type { ConnectionClosedInfo, GameSocketServer, ServerSocket } from "../server.ts";
import { AckError, ConnectError, type DisconnectReason, GameSocketClient } from "../client.ts";
import { connectClient, nextEvent, RawPeer, rootConnect } from "./harness.ts";
import {
  assertEchoes,
  echoInFlight,
  eventOf,
  nextFrame,
  rejection,
  restFrames,
  within,
} from "./within.ts";
import {
  assertErrorFrame,
  eventFrame,
  handshakenPeer,
  nextClose,
  startEchoServer,
} from "./server_probes.ts";

/** Collects the server's `error` events (servers have `on`, not `once`). */
function collectErrors(server: GameSocketServer): unknown[] {
  const errors: unknown[] = [];
  server.on("error", (error) => errors.push(error));
  return errors;
}

/** Asserts that the peer gets `Error {ProtocolViolation}` and then the end of the stream. */
async function assertViolationThenEnd(peer: RawPeer): Promise<void> {
  assertErrorFrame(await nextFrame(peer), ErrorCode.ProtocolViolation);
  assert.deepEqual(await restFrames(peer), []);
}

Deno.test("server refuses a first frame other than Connect with ProtocolViolation and closes", async () => {
  await using test = await startEchoServer();
  await using witness = await connectClient(test.port);
  const firstFrames: [string, Uint8Array][] = [
    ["Ping", encodeFrame(Ping, { timestamp: 1 }).slice()],
    ["Event", eventFrame(0)],
    ["EventName", encodeFrame(EventName, { id: 0, name: "echo" }).slice()],
  ];
  for (const [name, bytes] of firstFrames) {
    const during = echoInFlight(witness, name);
    await using peer = await RawPeer.connect(test.port);
    await peer.write(bytes);
    await assertViolationThenEnd(peer);
    assert.equal(await within(during, "an echo"), name);
  }
  await assertEchoes(witness, 1);
  assert.equal(test.server.root.sockets.size, 1);
});

Deno.test("server refuses a first Connect to a namespace other than / and closes", async () => {
  await using test = await startEchoServer();
  await using witness = await connectClient(test.port);
  for (const channel of [0, 1]) {
    await using peer = await RawPeer.connect(test.port);
    await peer.write(encodeFrame(Connect, {
      namespace: "/game",
      channel,
      protocolVersion: PROTOCOL_VERSION,
      schemaFingerprint: new SchemaRegistry().fingerprint,
    }));
    await assertViolationThenEnd(peer);
    await assertEchoes(witness, channel);
  }
  assert.equal(test.server.of("/game").sockets.size, 0);
});

Deno.test("server answers an unknown namespace with InvalidNamespace and keeps the connection", async () => {
  await using test = await startEchoServer();
  await using witness = await connectClient(test.port);
  const { peer, gone } = await handshakenPeer(test);
  await using _peer = peer;
  await peer.write(encodeFrame(Connect, { namespace: "/nowhere", channel: 1 }));
  const refusal = assertErrorFrame(await nextFrame(peer), ErrorCode.InvalidNamespace);
  assert.equal(refusal.namespace, "/nowhere");
  await assertEchoes(witness, 1);

  // The connection is still usable: the same channel can connect a namespace that exists.
  const joined = eventOf<[ServerSocket]>(test.server.of("/game"), "connection");
  await peer.write(encodeFrame(Connect, { namespace: "/game", channel: 1 }));
  const handshake = await nextFrame(peer);
  assert.ok(handshake?.type === "control" && handshake.schema === Handshake);
  assert.equal(handshake.channel, 1);
  assert.equal(handshake.value.namespace, "/game");
  const [socket] = await joined;
  assert.equal(socket.channel, 1);
  peer.close();
  assert.deepEqual(await within(gone, "the disconnect"), ["transport close"]);
});

Deno.test("server closes a connection that sends an unregistered schema with protocol error", async () => {
  const Known = defineSchema({
    name: "Known",
    code: 10,
    version: 0,
    fields: { x: { id: 0, type: "uint8" } },
  });
  const schemas = new SchemaRegistry([Known]);
  await using test = await startEchoServer({ schemas });
  await using witness = await connectClient(test.port, { schemas });
  const accepted = eventOf<[ServerSocket]>(test.server.root, "connection");
  await using peer = await RawPeer.connect(test.port, { schemas });
  await peer.write(rootConnect(schemas));
  assert.equal((await nextFrame(peer))?.type, "control");
  const [socket] = await accepted;
  const gone = nextEvent<[DisconnectReason]>(socket, "disconnect");
  const during = echoInFlight(witness, 7);
  // A message frame (kind 1) on channel 0 with schema 200.0, which nobody registered.
  await peer.write(new Uint8Array([0x04, 0x11, 0x00, 200, 0]));
  assert.deepEqual(await within(gone, "the disconnect"), ["protocol error"]);
  await assertViolationThenEnd(peer);
  assert.equal(await within(during, "an echo"), 7);
  await assertEchoes(witness, 8);
});

Deno.test("server closes a connection whose length prefix exceeds maxFrameSize with limit exceeded", async () => {
  await using test = await startEchoServer({ maxFrameSize: 1024 });
  await using witness = await connectClient(test.port);
  const { peer, gone } = await handshakenPeer(test);
  await using _peer = peer;
  const during = echoInFlight(witness, 1);
  // Length 5000 (varuint 88 27), a message header, then a little of the claimed body.
  await peer.write(new Uint8Array([0x88, 0x27, 0x11, 0x00, ...new Uint8Array(64)]));
  const closed = nextClose(test.server);
  assert.deepEqual(await within(gone, "the disconnect"), ["limit exceeded"]);
  const refusal = assertErrorFrame(await nextFrame(peer), ErrorCode.LimitExceeded);
  assert.equal(refusal.limit, "frame_size");
  assert.match(String(refusal.message), /5000/);
  const { reason, error } = await within(closed, "connection_closed");
  assert.equal(reason, "limit exceeded");
  assert.ok(error instanceof LimitExceededError);
  assert.equal(error.limit, "frame_size");
  assert.equal(error.max, 1024);
  assert.deepEqual(await restFrames(peer), []);
  assert.equal(await within(during, "an echo"), 1);
  await assertEchoes(witness, 2);
  assert.equal(test.server.root.sockets.size, 1);
});

Deno.test("server closes a connection that sends garbage bytes with protocol error", async () => {
  await using test = await startEchoServer();
  await using witness = await connectClient(test.port);
  const violation = ErrorCode.ProtocolViolation;
  const garbage: [string, number[], ErrorCode][] = [
    ["empty frame", [0x00], violation],
    ["oversized length varint", [0xff, 0xff, 0xff, 0xff, 0xff], violation],
    ["overlong length varint", [0x84, 0x00, 0x10, 0x00, 0x03, 0x00], violation],
    ["unknown frame kind", [0x04, 0x1f, 0x00, 0x00, 0x00], violation],
    ["truncated control frame", [0x02, 0x10, 0x00], violation],
    ["unknown control schema", [0x04, 0x10, 0x00, 0xfe, 0x00], violation],
    ["trailing bytes after a Ping", [0x09, 0x10, 0x00, 0x03, 0x00, 0, 0, 0, 1, 0xaa], violation],
    ["a raw frame (allowRaw off)", [0x04, 0x12, 0x00, 0xca, 0xfe], violation],
    // "G" claims 71 bytes and "E" is a header of version 4: refused once the 71 bytes are in.
    [
      "an HTTP request",
      [...new TextEncoder().encode(`GET / HTTP/1.1\r\n${"X: y\r\n".repeat(12)}`)],
      ErrorCode.ProtocolMismatch,
    ],
  ];
  for (const [name, bytes, code] of garbage) {
    const { peer, gone } = await handshakenPeer(test);
    await using _peer = peer;
    await peer.write(new Uint8Array(bytes));
    assert.deepEqual(await within(gone, "the disconnect"), ["protocol error"], name);
    assertErrorFrame(await nextFrame(peer), code);
    assert.deepEqual(await restFrames(peer), [], name);
    await assertEchoes(witness, bytes.length);
  }
  assert.equal(test.server.root.sockets.size, 1);
});

Deno.test("server closes a connection that sends an event id it never declared", async () => {
  await using test = await startEchoServer();
  await using witness = await connectClient(test.port);
  const { peer, socket, gone } = await handshakenPeer(test);
  await using _peer = peer;
  let heard = false;
  socket.on("echo", () => heard = true);
  await peer.write(eventFrame(0));
  assert.deepEqual(await within(gone, "the disconnect"), ["protocol error"]);
  const refusal = assertErrorFrame(await nextFrame(peer), ErrorCode.ProtocolViolation);
  assert.match(String(refusal.message), /never declared/);
  assert.deepEqual(await restFrames(peer), []);
  assert.equal(heard, false);
  await assertEchoes(witness, 1);
});

Deno.test("server refuses a Connect of another protocol version with ProtocolMismatch", async () => {
  await using test = await startEchoServer();
  await using witness = await connectClient(test.port);
  const during = echoInFlight(witness, 1);
  await using peer = await RawPeer.connect(test.port);
  await peer.write(encodeFrame(Connect, {
    namespace: "/",
    channel: 0,
    protocolVersion: 2,
    schemaFingerprint: new SchemaRegistry().fingerprint,
  }));
  const refusal = assertErrorFrame(await nextFrame(peer), ErrorCode.ProtocolMismatch);
  assert.equal(refusal.namespace, "/");
  assert.deepEqual(await restFrames(peer), []);
  assert.equal(await within(during, "an echo"), 1);
  assert.equal(test.server.root.sockets.size, 1);
});

Deno.test("server answers a frame with header version 2 with ProtocolMismatch and closes", async () => {
  await using test = await startEchoServer();
  await using witness = await connectClient(test.port);
  const ping = encodeFrame(Ping, { timestamp: 1 }).slice();
  ping[1] = 0x20; // version 2, kind control

  // As the first frame: refused before any handshake.
  {
    await using peer = await RawPeer.connect(test.port);
    await peer.write(ping);
    const refusal = assertErrorFrame(await nextFrame(peer), ErrorCode.ProtocolMismatch);
    assert.match(String(refusal.message), /version/);
    assert.deepEqual(await restFrames(peer), []);
  }
  // After the handshake: the socket disconnects with "protocol error".
  const { peer, gone } = await handshakenPeer(test);
  await using _peer = peer;
  const during = echoInFlight(witness, 1);
  await peer.write(ping);
  assert.deepEqual(await within(gone, "the disconnect"), ["protocol error"]);
  assertErrorFrame(await nextFrame(peer), ErrorCode.ProtocolMismatch);
  assert.deepEqual(await restFrames(peer), []);
  assert.equal(await within(during, "an echo"), 1);
  await assertEchoes(witness, 2);
});

Deno.test("client with other schemas is refused with schema_mismatch naming both fingerprints", async () => {
  await using test = await startEchoServer();
  await using witness = await connectClient(test.port);
  const Extra = defineSchema({
    name: "Extra",
    code: 1,
    version: 0,
    fields: { n: { id: 0, type: "uint16" } },
  });
  await using client = new GameSocketClient({ schemas: [Extra] });
  const error = await rejection(client.connect("127.0.0.1", test.port), ConnectError);
  assert.equal(error.code, "schema_mismatch");
  assert.equal(error.namespace, "/");
  assert.ok(error.message.includes(test.server.options.schemas.fingerprint), error.message);
  assert.ok(error.message.includes(client.options.schemas.fingerprint), error.message);
  assert.notEqual(test.server.options.schemas.fingerprint, client.options.schemas.fingerprint);
  assert.equal(client.state, "closed");
  await assertEchoes(witness, 1);
  assert.equal(test.server.root.sockets.size, 1);
});

Deno.test("server closes a connection that sends no connect within handshakeTimeout, saying why", async () => {
  await using test = await startEchoServer({ handshakeTimeout: 100 });
  await using witness = await connectClient(test.port);
  const during = echoInFlight(witness, 1);
  const started = performance.now();
  const closes: ConnectionClosedInfo[] = [];
  const bothClosed = new Promise<void>((resolve) =>
    test.server.on("connection_closed", (info) => {
      if (closes.push(info) === 2) resolve();
    })
  );
  await using peer = await RawPeer.connect(test.port);
  await using silent = await RawPeer.connect(test.port);
  // A slow client (part of its connect): one Error (no socket was made, so no Disconnect), then
  // the end of the stream. A silent one is not worth a write: only the end.
  await peer.write(rootConnect().subarray(0, 3));
  const [refusal, ...rest] = await restFrames(peer);
  assert.deepEqual(await restFrames(silent), []);
  const told = assertErrorFrame(refusal, ErrorCode.LimitExceeded);
  assert.equal(told.limit, "handshake_timeout");
  assert.deepEqual(rest, []);
  await within(bothClosed, "both closes");
  for (const { reason, error } of closes) {
    assert.equal(reason, "handshake timeout");
    assert.ok(error instanceof LimitExceededError);
    assert.equal(error.limit, "handshake_timeout");
    assert.equal(error.max, 100);
  }
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 90, `closed after ${elapsed} ms, before the handshake timeout`);
  assert.ok(elapsed < 1000, `closed after ${elapsed} ms, long after the handshake timeout`);
  assert.equal(await within(during, "an echo"), 1);
  await assertEchoes(witness, 2);
  assert.equal(test.server.stats.connections, 1);
});

Deno.test("server disconnects a half-closed connection with transport close and releases it", async () => {
  await using test = await startEchoServer();
  await using witness = await connectClient(test.port);
  const { peer, socket, gone } = await handshakenPeer(test);
  await using _peer = peer;
  assert.equal(test.server.stats.connections, 2);
  const during = echoInFlight(witness, 1);
  await peer.conn.closeWrite();
  assert.deepEqual(await within(gone, "the disconnect"), ["transport close"]);
  assert.equal(socket.connected, false);
  assert.equal(test.server.stats.connections, 1);
  // A peer that did not ask for a recoverable session (no `received` in its connect) is gone.
  assert.equal(test.server.root.sockets.has(socket.id), false);
  assert.deepEqual(await restFrames(peer), []);
  assert.equal(await within(during, "an echo"), 1);
  await assertEchoes(witness, 2);
});

Deno.test("server survives a peer that resets in the middle of a frame", async () => {
  await using test = await startEchoServer();
  const errors = collectErrors(test.server);
  await using witness = await connectClient(test.port);
  const { peer, socket, gone } = await handshakenPeer(test);
  await using _peer = peer;
  socket.on("poke", () => void socket.emit("reply", "x".repeat(1000)));
  await peer.write(encodeFrame(EventName, { id: 0, name: "poke" }));
  await peer.write(eventFrame(0));
  // Read one byte of the reply, so the rest is unread in the peer's buffer: closing now resets
  // the connection (RST) instead of ending it.
  assert.equal(await peer.conn.read(new Uint8Array(1)), 1);
  const frame = encodeFrame(Ping, { timestamp: 1 });
  await peer.write(frame.subarray(0, 4));
  peer.close();
  const [reason] = await within(gone, "the disconnect");
  assert.ok(reason === "transport close" || reason === "transport error", reason);
  for (const error of errors) assert.ok(error instanceof Error, String(error));
  await assertEchoes(witness, 1);
  // The server still accepts connections.
  await using again = await connectClient(test.port);
  await assertEchoes(again, 2);
  assert.equal(test.server.stats.connections, 2);
});

Deno.test("server releases a thousand sockets that connect and disconnect in a loop", async () => {
  await using test = await startEchoServer();
  await using witness = await connectClient(test.port);
  const game = test.server.of("/game");
  const reasons = new Map<string, number>();
  const count = (reason: string) => reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  test.server.on("connection", (socket) => socket.on("disconnect", count));
  game.on("connection", (socket) => socket.on("disconnect", count));
  const clients = 500; // two sockets each: "/" and "/game"
  const concurrency = 25;
  const deadline = performance.now() + 10_000;
  let released = 0;
  let allReleased: () => void = () => {};
  const everyone = new Promise<void>((resolve) => allReleased = resolve);
  test.server.on("connection_closed", () => {
    if (++released === clients) allReleased();
  });
  const cycle = async (i: number) => {
    await using client = await connectClient(test.port);
    const socket = await client.of("/game").ready;
    assert.equal(await socket.emitWithAck("echo", i), i);
  };
  for (let i = 0; i < clients; i += concurrency) {
    assert.ok(performance.now() < deadline, `only ${i} clients within the time bound`);
    const batch = [];
    for (let j = i; j < Math.min(i + concurrency, clients); j++) batch.push(cycle(j));
    await within(Promise.all(batch), `clients ${i} to ${i + concurrency - 1}`);
    if (i % 100 === 0) await assertEchoes(witness, i);
  }
  await within(everyone, "the release of every connection");
  assert.equal(test.server.stats.connections, 1);
  assert.deepEqual([...reasons], [["client disconnect", clients * 2]]);
  assert.equal(test.server.stats.accepted, clients + 1);
  assert.equal(game.sockets.size, 0);
  assert.equal(test.server.root.sockets.size, 1);
  assert.deepEqual([...game.rooms.keys()], []);
  await assertEchoes(witness, clients);
});

Deno.test("server reports a handler that throws on its error event and keeps answering", async () => {
  await using test = await startEchoServer();
  const errors = collectErrors(test.server);
  const reported = new Promise<unknown>((resolve) => test.server.on("error", resolve));
  test.server.on("connection", (socket) => {
    socket.on("boom", () => {
      throw new Error("boom handler failed");
    });
  });
  await using witness = await connectClient(test.port);
  await using thrower = await connectClient(test.port);
  assert.equal(thrower.root!.emit("boom"), "sent");
  const error = await within(reported, "the error event");
  assert.ok(error instanceof Error);
  assert.equal(error.message, "boom handler failed");
  // With an ack, the client learns that the handler failed.
  await assert.rejects(thrower.root!.emitWithAck("boom", null, { timeout: 2000 }), AckError);
  assert.equal(errors.length, 2);
  await assertEchoes(witness, 1);
  await assertEchoes(thrower, 2);
  assert.equal(test.server.stats.connections, 2);
});

Deno.test("server turns a connection over maxConnections away with limit exceeded and counts it refused", async () => {
  await using test = await startEchoServer({ maxConnections: 2 });
  await using witness = await connectClient(test.port);
  await using second = await connectClient(test.port);
  const errors: unknown[] = [];
  await using third = new GameSocketClient();
  third.on("error", (error) => errors.push(error));
  const turnedAway = nextClose(test.server);
  const error = await rejection(third.connect("127.0.0.1", test.port), ConnectError);
  assert.equal(error.code, "limit_exceeded");
  assert.ok(error.cause instanceof LimitExceededError);
  assert.equal(error.cause.limit, "connections");
  assert.equal(third.state, "closed");
  const closed = await within(turnedAway, "connection_closed");
  assert.equal(closed.reason, "limit exceeded");
  assert.ok(closed.error instanceof LimitExceededError);
  assert.equal(closed.error.limit, "connections");
  assert.equal(closed.error.max, 2);
  assert.equal(test.server.stats.refused, 1);
  assert.equal(test.server.stats.accepted, 2);
  assert.equal(test.server.stats.connections, 2);
  // A raw peer is told why, and the stream ends.
  {
    await using peer = await RawPeer.connect(test.port);
    await peer.write(rootConnect());
    const [refusal, ...rest] = await restFrames(peer);
    assert.equal(assertErrorFrame(refusal, ErrorCode.LimitExceeded).limit, "connections");
    assert.deepEqual(rest, []);
  }
  assert.equal(test.server.stats.refused, 2);
  await assertEchoes(witness, 1);
  await assertEchoes(second, 2);
  // A place frees up when a connection leaves.
  const released = nextClose(test.server);
  await second.close();
  assert.equal((await within(released, "the release")).reason, "client disconnect");
  assert.equal(test.server.stats.connections, 1);
  await using fourth = await connectClient(test.port);
  await assertEchoes(fourth, 3);
});
