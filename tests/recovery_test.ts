/**
 * Reconnection and session recovery over real loopback, through a relay that cuts connections:
 * the same sockets, rooms and data come back, every reliable message arrives exactly once and in
 * order both ways, emits made while away are kept, tokens work once, and a session past its
 * window makes way for a fresh one.
 */

import assert from "node:assert/strict";
import { GameSocketClient, type ReconnectInfo } from "../client.ts";
import { OfflineQueueFullError } from "../mod.ts";
import type { GameSocketServerOptions, ServerSocket } from "../server.ts";
import { CuttingTcpRelay } from "./fixtures/cutting_tcp_relay.ts";
import { RawPeer, startServer } from "./harness.ts";
import {
  Connect,
  encodeFrame,
  Handshake,
  PROTOCOL_VERSION,
  SchemaRegistry,
} from "../protocol/mod.ts";
import { eventOf, within } from "./within.ts";

/** Reconnection that retries at once, so the tests wait for events, not delays. */
const FAST = { firstDelay: 1, maxDelay: 20, randomization: 0 };

/** A server behind a cutting relay, and a client connected through it. */
async function throughRelay(
  serverOptions: GameSocketServerOptions = {},
  cutAfter?: { min: number; max: number },
) {
  const server = await startServer(serverOptions);
  const relay = CuttingTcpRelay.start({
    targetPort: server.port,
    seed: 2026,
    ...(cutAfter === undefined ? {} : { cutAfter }),
  });
  const connected = eventOf<[ServerSocket]>(server.server, "connection");
  const client = new GameSocketClient({ reconnection: FAST });
  await client.connect("127.0.0.1", relay.port);
  const [socket] = await connected;
  return {
    server,
    relay,
    client,
    socket,
    async [Symbol.asyncDispose]() {
      await client.close();
      await relay.close();
      await server[Symbol.asyncDispose]();
    },
  };
}

Deno.test("A cut connection resumes its session: same ids, rooms and data, and what was sent meanwhile, both ways", async () => {
  await using setup = await throughRelay();
  const { server, relay, client, socket } = setup;
  socket.data = { score: 7 };
  socket.join("arena");
  const root = client.root!;
  const heard: unknown[] = [];
  root.on("news", (data) => void heard.push(data));
  const told: unknown[] = [];
  socket.on("move", (data) => void told.push(data));
  assert.equal(root.emit("move", 1), "sent");
  await within(new Promise<void>((resolve) => socket.once("move", () => resolve())));
  const lost = eventOf<[string]>(socket, "disconnect");
  const away = eventOf<[string]>(root, "disconnect");
  relay.cutAll();
  assert.deepEqual(await lost, ["transport close"]);
  await away;
  assert.equal(client.state, "reconnecting");
  // Meanwhile, both sides keep emitting: the server to the socket and its room, the client offline.
  assert.equal(socket.recovering, true);
  assert.equal(socket.emit("news", "direct"), "sent");
  server.server.root.to("arena").emit("news", "room");
  assert.equal(root.emit("move", 2), "sent");
  const back = eventOf<[ReconnectInfo]>(client, "reconnect");
  const recovered = eventOf(socket, "recover");
  const [info] = await back;
  await recovered;
  assert.equal(info.recovered, true);
  assert.ok(info.attempts >= 1);
  assert.equal(client.state, "open");
  assert.equal(root.id, socket.id);
  assert.deepEqual(socket.data, { score: 7 });
  assert.ok(socket.rooms.has("arena"));
  assert.equal(await within(root.emitWithAck("move", 3)), undefined);
  assert.deepEqual(told, [1, 2, 3]);
  assert.deepEqual(heard, ["direct", "room"]);
  assert.equal(server.server.root.sockets.size, 1);
});

Deno.test("With 100 cuts during 10,000 reliable messages each way, every message arrives exactly once and in order", async () => {
  // The client sends as fast as it can, far over the default inbound rate limit.
  await using setup = await throughRelay({ rateLimit: false }, { min: 1000, max: 4000 });
  const { relay, client, socket } = setup;
  const root = client.root!;
  const COUNT = 10_000;
  const BATCH = 50;
  const atServer: number[] = [];
  const atClient: number[] = [];
  socket.on("up", (n) => {
    atServer.push(n as number);
    return n;
  });
  root.on("down", (n) => {
    atClient.push(n as number);
    return n;
  });
  const send = async (emit: (n: number, ack: boolean) => Promise<unknown> | unknown) => {
    for (let start = 0; start < COUNT; start += BATCH) {
      for (let n = start; n < start + BATCH - 1; n++) emit(n, false);
      // The last of a batch waits for its answer, which keeps what is unconfirmed small.
      await emit(start + BATCH - 1, true);
    }
  };
  const up = send((n, ack) =>
    ack ? root.emitWithAck("up", n, { timeout: 20_000 }) : root.emit("up", n)
  );
  const down = send((n, ack) =>
    ack ? socket.emitWithAck("down", n, { timeout: 20_000 }) : socket.emit("down", n)
  );
  await within(Promise.all([up, down]), "20,000 messages through the cuts", 60_000);
  assert.ok(relay.cuts >= 100, `${relay.cuts} cuts`);
  assert.deepEqual(atServer, [...Array(COUNT).keys()]);
  assert.deepEqual(atClient, [...Array(COUNT).keys()]);
  assert.equal(root.id, socket.id);
});

Deno.test("A stolen or replayed recovery token is refused, and the owner resumes with its own", async () => {
  await using server = await startServer();
  const connect = (fields: Record<string, unknown>) =>
    encodeFrame(Connect, {
      namespace: "/",
      channel: 0,
      protocolVersion: PROTOCOL_VERSION,
      schemaFingerprint: new SchemaRegistry().fingerprint,
      ...fields,
    });
  const handshake = async (peer: RawPeer) => {
    const frame = await within(peer.next());
    assert.ok(frame?.type === "control" && frame.schema === Handshake);
    return frame.value as {
      socketId: string;
      sessionId: string;
      recoveryToken: Uint8Array;
      recovered: boolean;
    };
  };
  const expired = eventOf<[ServerSocket]>(server.server, "connection");
  const owner = await RawPeer.connect(server.port);
  await owner.write(connect({ received: 0 }));
  const first = await handshake(owner);
  const [socket] = await expired;
  const lost = eventOf(socket, "disconnect");
  owner.conn.close();
  await lost;
  // A thief with the session id and a guessed token: refused, it gets a session of its own.
  await using thief = await RawPeer.connect(server.port);
  await thief.write(connect({
    sessionId: first.sessionId,
    recoveryToken: new Uint8Array(32),
    received: 0,
  }));
  const stolen = await handshake(thief);
  assert.equal(stolen.recovered, false);
  assert.notEqual(stolen.socketId, first.socketId);
  assert.equal(socket.recovering, true, "the owner's session still waits");
  // The owner resumes with its token.
  const again = await RawPeer.connect(server.port);
  await again.write(
    connect({ sessionId: first.sessionId, recoveryToken: first.recoveryToken, received: 0 }),
  );
  const resumed = await handshake(again);
  assert.equal(resumed.recovered, true);
  assert.equal(resumed.socketId, first.socketId);
  assert.notDeepEqual(resumed.recoveryToken, first.recoveryToken, "a fresh token");
  const lostAgain = eventOf(socket, "disconnect");
  again.conn.close();
  await lostAgain;
  // The first token, used once already, is refused; the fresh one works.
  await using replayer = await RawPeer.connect(server.port);
  await replayer.write(
    connect({ sessionId: first.sessionId, recoveryToken: first.recoveryToken, received: 0 }),
  );
  assert.equal((await handshake(replayer)).recovered, false);
  await using owner3 = await RawPeer.connect(server.port);
  await owner3.write(
    connect({ sessionId: first.sessionId, recoveryToken: resumed.recoveryToken, received: 0 }),
  );
  assert.equal((await handshake(owner3)).recovered, true);
});

Deno.test("After the recovery window, the client gets a fresh session in its namespaces and rooms, not an error loop", async () => {
  await using server = await startServer({
    recovery: { window: 50 },
    heartbeatInterval: 100,
    heartbeatTimeout: 5000,
  });
  const relay = CuttingTcpRelay.start({ targetPort: server.port, seed: 1 });
  await using _relay = relay;
  const home = server.server.of("/home");
  const client = new GameSocketClient({
    reconnection: { firstDelay: 300, randomization: 0 },
  });
  await using _client = { [Symbol.asyncDispose]: () => client.close() };
  await client.connect("127.0.0.1", relay.port);
  const socket = await within(client.of("/home").ready);
  const inLobby = () =>
    within(
      new Promise<void>((resolve) => {
        if (socket.rooms.has("lobby")) resolve();
        else socket.once("room_joined", () => resolve());
      }),
      "the lobby",
    );
  await within(socket.join("lobby"));
  const oldRoot = client.root!.id;
  const oldHome = socket.id;
  const expiredOnServer = eventOf<[{ sessionId: string }]>(server.server, "session_expired");
  const expiredOnClient = eventOf(client, "session_expired");
  const reconnects: ReconnectInfo[] = [];
  client.on("reconnect", (info) => reconnects.push(info));
  const homeBack = eventOf(socket, "connect");
  relay.cutAll();
  await expiredOnServer;
  await expiredOnClient;
  await homeBack;
  assert.deepEqual(reconnects, [{ recovered: false, attempts: 1 }]);
  assert.notEqual(client.root!.id, oldRoot);
  assert.notEqual(socket.id, oldHome);
  assert.equal(socket.connected, true);
  // It joins its room again (`rejoinRooms`, on by default).
  await inLobby();
  assert.equal(home.sockets.size, 1);
  assert.deepEqual([...home.socketsIn("lobby")].map((s) => s.id), [socket.id]);
});

Deno.test("Emits while reconnecting are kept up to the offline queue's limit; volatile ones are dropped", async () => {
  await using server = await startServer();
  const relay = CuttingTcpRelay.start({ targetPort: server.port, seed: 3 });
  await using _relay = relay;
  const client = new GameSocketClient({
    reconnection: { firstDelay: 200, randomization: 0 },
    offlineQueue: { maxFrames: 2 },
  });
  await using _client = { [Symbol.asyncDispose]: () => client.close() };
  const connected = eventOf<[ServerSocket]>(server.server, "connection");
  await client.connect("127.0.0.1", relay.port);
  const [socket] = await connected;
  const heard: unknown[] = [];
  socket.on("e", (data) => void heard.push(data));
  const away = eventOf(client.root!, "disconnect");
  relay.cutAll();
  await away;
  const root = client.root!;
  assert.equal(root.emit("e", "vol", { volatile: true }), "dropped");
  assert.equal(root.emit("e", 1), "sent");
  assert.equal(root.emit("e", 2), "sent");
  assert.throws(() => root.emit("e", 3), OfflineQueueFullError);
  await assert.rejects(root.emitWithAck("e", 4), OfflineQueueFullError);
  await eventOf(client, "reconnect");
  await within(root.emitWithAck("e", 5).catch(() => undefined));
  assert.deepEqual(heard, [1, 2, 5]);
});

Deno.test("close() never reconnects, and a dropped client that cannot reach the server gives up after maxAttempts", async () => {
  await using server = await startServer();
  const relay = CuttingTcpRelay.start({ targetPort: server.port, seed: 4 });
  const client = new GameSocketClient({ reconnection: { ...FAST, maxAttempts: 3 } });
  const attempts: number[] = [];
  client.on("reconnect_attempt", (n) => attempts.push(n));
  const errors: unknown[] = [];
  client.on("reconnect_error", (error) => errors.push(error));
  await client.connect("127.0.0.1", relay.port);
  // The relay goes away for good: every attempt fails.
  const failed = eventOf(client, "reconnect_failed");
  const closed = eventOf<[string]>(client, "close");
  await relay.close();
  await failed;
  assert.deepEqual(await closed, ["transport close"]);
  assert.deepEqual(attempts, [1, 2, 3]);
  assert.equal(errors.length, 3);
  assert.equal(client.state, "closed");
  await client.close();
  // A client closed by its user does not reconnect.
  const other = new GameSocketClient({ reconnection: FAST });
  other.on("reconnect_attempt", () => assert.fail("no reconnection after close()"));
  await other.connect("127.0.0.1", server.port);
  await other.close();
  assert.equal(other.state, "closed");
});

Deno.test("A waiting session keeps its rooms unless keepRooms is off, and expires with the window", async () => {
  for (const keepRooms of [true, false]) {
    await using server = await startServer({
      recovery: { window: 40, keepRooms },
      heartbeatInterval: 100,
      heartbeatTimeout: 5000,
    });
    const connected = eventOf<[ServerSocket]>(server.server, "connection");
    const peer = await RawPeer.connect(server.port);
    await peer.write(encodeFrame(Connect, {
      namespace: "/",
      channel: 0,
      protocolVersion: PROTOCOL_VERSION,
      schemaFingerprint: new SchemaRegistry().fingerprint,
      received: 0,
    }));
    const [socket] = await connected;
    socket.join("arena");
    const events: string[] = [];
    socket.on(
      "disconnect",
      (reason) => events.push(reason.startsWith("transport") ? "disconnect" : reason),
    );
    socket.on("expired", () => events.push("expired"));
    const gone = eventOf<[{ sessionId: string }]>(server.server, "session_expired");
    const lost = eventOf(socket, "disconnect");
    peer.conn.close();
    await lost;
    assert.equal(socket.recovering, true);
    assert.equal(socket.rooms.has("arena"), keepRooms);
    assert.equal(socket.rooms.has(socket.id), true);
    assert.equal(socket.emit("while away", 1), "sent", "kept for the client's return");
    await gone;
    assert.deepEqual(events, ["disconnect", "expired"]);
    assert.equal(server.server.root.sockets.size, 0);
    assert.equal(socket.emit("after", 1), "closed");
  }
});

Deno.test("A network gone silent: both sides time out, and the session resumes with nothing lost", async () => {
  await using server = await startServer({ heartbeatInterval: 50, heartbeatTimeout: 200 });
  const relay = CuttingTcpRelay.start({ targetPort: server.port, seed: 5 });
  await using _relay = relay;
  const connected = eventOf<[ServerSocket]>(server.server, "connection");
  const client = new GameSocketClient({ reconnection: FAST });
  await using _client = { [Symbol.asyncDispose]: () => client.close() };
  await client.connect("127.0.0.1", relay.port);
  const [socket] = await connected;
  const root = client.root!;
  const heard: unknown[] = [];
  root.on("news", (data) => void heard.push(data));
  const serverSide = eventOf<[string]>(socket, "disconnect");
  const clientSide = eventOf<[string]>(root, "disconnect");
  relay.freezeAll();
  // Sent into the silence: lost on the wire, kept by the session.
  socket.emit("news", 1);
  assert.deepEqual(await serverSide, ["heartbeat timeout"]);
  await clientSide;
  const back = eventOf<[ReconnectInfo]>(client, "reconnect");
  socket.emit("news", 2);
  const [info] = await back;
  assert.equal(info.recovered, true);
  await within(root.emitWithAck("ping?").catch(() => undefined));
  assert.deepEqual(heard, [1, 2]);
  assert.equal(root.id, socket.id);
});

Deno.test("A client back before the server saw its connection drop takes its session over", async () => {
  await using setup = await throughRelay({ heartbeatTimeout: 60_000 });
  const { server, relay, client, socket } = setup;
  const root = client.root!;
  const heard: unknown[] = [];
  root.on("news", (data) => void heard.push(data));
  const told: unknown[] = [];
  socket.on("move", (data) => void told.push(data));
  root.emit("move", 1);
  await within(new Promise<void>((resolve) => socket.once("move", () => resolve())));
  const recovered = eventOf(socket, "recover");
  const back = eventOf<[ReconnectInfo]>(client, "reconnect");
  // The client's side ends; the server's old connection stays open and silent.
  relay.dropClientSides();
  socket.emit("news", "into the void");
  const [info] = await back;
  await recovered;
  assert.equal(info.recovered, true);
  root.emit("move", 2);
  socket.emit("news", "after");
  await within(root.emitWithAck("barrier").catch(() => undefined));
  await within(socket.emitWithAck("barrier").catch(() => undefined));
  assert.deepEqual(told, [1, 2]);
  assert.deepEqual(heard, ["into the void", "after"]);
  assert.equal(server.server.stats.connections, 1);
  assert.equal(root.id, socket.id);
});
