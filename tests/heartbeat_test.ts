// Heartbeats and deadlines over real loopback connections: round trips measured on both sides,
// heartbeat timeouts on both sides, the handshake timeout and the idle timeout.
import assert from "node:assert/strict";
import {
  encodeFrame,
  Handshake,
  Ping,
  Pong,
  PROTOCOL_VERSION,
  SchemaRegistry,
} from "../protocol/mod.ts";
import type { DisconnectReason, ServerSocket } from "../server.ts";
import { GameSocketClient, type PongInfo } from "../client.ts";
import { connectClient, RawPeer, rootConnect, startServer } from "./harness.ts";
import { eventOf, within } from "./within.ts";

Deno.test("Both sides measure the round trip from heartbeats", async () => {
  await using test = await startServer({ heartbeatInterval: 50, heartbeatTimeout: 2000 });
  const connected = eventOf<[ServerSocket]>(test.server.root, "connection");
  await using client = await connectClient(test.port);
  const [socket] = await connected;
  assert.equal(socket.stats.rtt, undefined, "nothing measured before the first ping");
  assert.deepEqual(client.rtt, { last: undefined, smoothed: undefined });

  // The client pings at the interval the handshake announced, and hears the pong.
  const [pong] = await eventOf<[PongInfo]>(client, "pong");
  assert.ok(Number.isInteger(pong.rtt) && pong.rtt >= 0 && pong.rtt < 1000, `rtt ${pong.rtt}`);
  assert.equal(typeof pong.smoothedRtt, "number");
  assert.equal(client.rtt.last !== undefined, true);

  // The server pings too; once the client's pong has been handled, the server knows its rtt.
  await eventOf(client, "ping");
  socket.on("after", () => socket.stats.rtt);
  const rtt = await within(client.root!.emitWithAck("after"));
  assert.equal(typeof rtt, "number");
  assert.ok((rtt as number) >= 0 && (rtt as number) < 1000);
  assert.equal(typeof socket.stats.smoothedRtt, "number");
});

Deno.test("The server disconnects a peer that never answers its pings with heartbeat timeout", async () => {
  await using test = await startServer({ heartbeatInterval: 50, heartbeatTimeout: 200 });
  const connected = eventOf<[ServerSocket]>(test.server.root, "connection");
  await using peer = await RawPeer.connect(test.port);
  await peer.write(rootConnect());
  const [socket] = await connected;
  const started = performance.now();
  const [reason] = await eventOf<[DisconnectReason]>(socket, "disconnect");
  assert.equal(reason, "heartbeat timeout");
  assert.ok(performance.now() - started >= 150, "not before the timeout");

  // The peer heard pings meanwhile, and then the end of the stream.
  const frames = await within(peer.rest());
  assert.ok(frames.some((f) => f.type === "control" && f.schema === Ping), "the server pinged");
});

Deno.test("A connection that answers pings is not disconnected", async () => {
  await using test = await startServer({ heartbeatInterval: 20, heartbeatTimeout: 250 });
  const connected = eventOf<[ServerSocket]>(test.server.root, "connection");
  await using client = await connectClient(test.port);
  const [socket] = await connected;
  let gone: string | undefined;
  socket.on("disconnect", (reason) => gone = reason);
  // The client's own heartbeat keeps pace; let several timeouts' worth of pings pass.
  for (let pings = 0; pings < 20; pings++) await eventOf(client, "ping");
  assert.equal(gone, undefined);
  assert.ok(socket.connected);
});

Deno.test("Without reconnection, the client closes with heartbeat timeout when a server goes silent", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await using client = new GameSocketClient({ reconnection: false });
  const accepting = listener.accept();
  const connecting = client.connect("127.0.0.1", listener.addr.port);
  await using server = RawPeer.accept(await within(accepting));
  const connect = await within(server.next());
  assert.ok(connect?.type === "control" && connect.schema.name === "Connect");
  await server.write(encodeFrame(Handshake, {
    namespace: "/",
    channel: 0,
    socketId: "A".repeat(22),
    protocolVersion: PROTOCOL_VERSION,
    schemaFingerprint: new SchemaRegistry().fingerprint,
    heartbeatInterval: 1000,
    heartbeatTimeout: 200,
    maxFrameSize: 65536,
  }));
  const root = await within(connecting);
  const rootReason = eventOf<[DisconnectReason]>(root, "disconnect");
  const started = performance.now();
  const [reason] = await eventOf<[DisconnectReason]>(client, "close");
  assert.equal(reason, "heartbeat timeout");
  assert.deepEqual(await rootReason, ["heartbeat timeout"]);
  assert.ok(performance.now() - started >= 150, "not before the timeout");
  assert.equal(client.state, "closed");
  assert.equal(await within(server.next()), undefined, "the client closed the connection");
});

Deno.test("The server closes a connection that sends no connect within the handshake timeout", async () => {
  await using test = await startServer({ handshakeTimeout: 100 });
  await using peer = await RawPeer.connect(test.port);
  const started = performance.now();
  assert.equal(await within(peer.next()), undefined, "the server ended the stream");
  assert.ok(performance.now() - started >= 80, "not before the timeout");
  assert.equal(test.server.root.sockets.size, 0);
});

Deno.test("The idle timeout closes a connection that sends no events, heartbeats aside", async () => {
  await using test = await startServer({
    idleTimeout: 150,
    heartbeatInterval: 20,
    heartbeatTimeout: 1000,
  });
  const connected = eventOf<[ServerSocket]>(test.server.root, "connection");
  await using client = await connectClient(test.port);
  const [socket] = await connected;
  const started = performance.now();
  const closed = eventOf<[DisconnectReason]>(client, "close");
  const [reason] = await eventOf<[DisconnectReason]>(socket, "disconnect");
  assert.equal(reason, "idle timeout");
  assert.ok(performance.now() - started >= 120, "not before the timeout");
  assert.deepEqual(await closed, ["idle timeout"], "the client is told why");
});

Deno.test("Events keep a connection from the idle timeout", async () => {
  await using test = await startServer({
    idleTimeout: 150,
    heartbeatInterval: 30,
    heartbeatTimeout: 1000,
  });
  const connected = eventOf<[ServerSocket]>(test.server.root, "connection");
  await using client = await connectClient(test.port);
  const [socket] = await connected;
  let gone: string | undefined;
  socket.on("disconnect", (reason) => gone = reason);
  socket.on("tick", () => "tock");
  // The server's pings pace the events: twelve of them span more than two idle timeouts.
  const started = performance.now();
  for (let i = 0; i < 12; i++) {
    await eventOf(client, "ping");
    assert.equal(await within(client.root!.emitWithAck("tick")), "tock");
  }
  assert.ok(performance.now() - started > 300);
  assert.equal(gone, undefined);
  assert.ok(socket.connected);
});

/** Reads a raw peer's frames and answers each Ping with a Pong `delay` ms late (a slow link). */
async function answerPingsLate(peer: RawPeer, delay: number): Promise<void> {
  for (let frame = await peer.next(); frame !== undefined; frame = await peer.next()) {
    if (frame.type !== "control" || frame.schema !== Ping) continue;
    const { timestamp } = frame.value as { timestamp: number };
    // The delay is the point: it is the latency under test, not a wait for an event.
    await new Promise((resolve) => setTimeout(resolve, delay));
    try {
      await peer.write(encodeFrame(Pong, { timestamp }));
    } catch {
      return; // The other side closed meanwhile.
    }
  }
  peer.close(); // The other side ended the stream: end ours too.
}

Deno.test("The server disconnects a connection whose smoothed round trip exceeds maxAverageRtt", async () => {
  await using test = await startServer({
    heartbeatInterval: 20,
    heartbeatTimeout: 2000,
    maxAverageRtt: 30,
  });
  const connected = eventOf<[ServerSocket]>(test.server.root, "connection");
  await using peer = await RawPeer.connect(test.port);
  await peer.write(rootConnect());
  const [socket] = await connected;
  const gone = eventOf<[DisconnectReason]>(socket, "disconnect");
  const answering = answerPingsLate(peer, 60);
  assert.deepEqual(await gone, ["high latency"]);
  assert.ok((socket.stats.smoothedRtt ?? 0) > 30, `smoothed rtt ${socket.stats.smoothedRtt}`);
  await within(answering, "the end of the stream");
});

Deno.test("The client closes with high latency when its smoothed round trip exceeds maxAverageRtt", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await using client = new GameSocketClient({ maxAverageRtt: 30 });
  const accepting = listener.accept();
  const connecting = client.connect("127.0.0.1", listener.addr.port);
  await using server = RawPeer.accept(await within(accepting));
  await within(server.next());
  await server.write(encodeFrame(Handshake, {
    namespace: "/",
    channel: 0,
    socketId: "B".repeat(22),
    protocolVersion: PROTOCOL_VERSION,
    schemaFingerprint: new SchemaRegistry().fingerprint,
    heartbeatInterval: 20,
    heartbeatTimeout: 2000,
    maxFrameSize: 65536,
  }));
  await within(connecting);
  const closed = eventOf<[DisconnectReason]>(client, "close");
  const answering = answerPingsLate(server, 60);
  assert.deepEqual(await closed, ["high latency"]);
  assert.ok((client.rtt.smoothed ?? 0) > 30, `smoothed rtt ${client.rtt.smoothed}`);
  await within(answering, "the end of the stream");
});
