// Namespaces over real loopback connections: the root, several namespaces multiplexed on one
// connection, refusals, dynamic namespaces, and leaving one namespace while keeping the others.
import assert from "node:assert/strict";
import {
  Connect,
  encodeFrame,
  ErrorCode,
  ErrorMessage,
  Event,
  EventName,
  Handshake,
  PayloadType,
  Ping,
  Pong,
} from "../protocol/mod.ts";
import { ConnectError, type DisconnectReason, type ServerSocket } from "../server.ts";
import { connectClient, RawPeer, rootConnect, startServer } from "./harness.ts";
import { eventOf, serverSide, within } from "./within.ts";

const encoder = new TextEncoder();

Deno.test("The root namespace / always exists and every connection gets a socket in it", async () => {
  await using test = await startServer();
  const { server } = test;
  assert.ok(server.namespaces.has("/"));
  assert.equal(server.of("/"), server.root);
  const connected = eventOf<[ServerSocket]>(server.root, "connection");
  await using client = await connectClient(test.port);
  const [socket] = await connected;
  assert.equal(socket.nsp.name, "/");
  assert.equal(socket.channel, 0);
  assert.match(socket.id, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(client.root?.id, socket.id);
  assert.ok(client.root?.connected);
  assert.equal(client.of("/"), client.root);
});

Deno.test("Several namespaces share one connection, each with its own socket and id", async () => {
  await using test = await startServer();
  const { server } = test;
  const alpha = server.of("/alpha");
  const beta = server.of("/beta");
  await using client = await connectClient(test.port);
  const [a, b] = await within(Promise.all([client.of("/alpha").ready, client.of("/beta").ready]));
  assert.equal(server.stats.connections, 1);
  const ids = new Set([client.root!.id, a.id, b.id]);
  assert.equal(ids.size, 3, "each namespace has its own socket id");
  const serverA = serverSide(alpha, a);
  const serverB = serverSide(beta, b);
  assert.notEqual(serverA.channel, serverB.channel);

  // Server to client: each event arrives on the socket of its namespace only.
  const heardA: unknown[] = [];
  const heardB: unknown[] = [];
  a.on("where", (data) => void heardA.push(data));
  b.on("where", (data) => void heardB.push(data));
  const bHeard = eventOf(b, "where");
  serverA.emit("where", "alpha");
  serverB.emit("where", "beta");
  await bHeard; // Frames keep their order on the connection, so alpha's has arrived too.
  assert.deepEqual(heardA, ["alpha"]);
  assert.deepEqual(heardB, ["beta"]);

  // Client to server: likewise.
  serverA.on("where", () => "heard by alpha");
  serverB.on("where", () => "heard by beta");
  assert.equal(await within(b.emitWithAck("where")), "heard by beta");
  assert.equal(await within(a.emitWithAck("where")), "heard by alpha");
});

Deno.test("An unknown namespace is refused with invalid_namespace and the others keep working", async () => {
  await using test = await startServer();
  test.server.of("/alpha").on("connection", (socket) => socket.on("echo", (data) => data));
  test.server.root.on("connection", (socket) => socket.on("echo", (data) => data));
  await using client = await connectClient(test.port);
  const alpha = await within(client.of("/alpha").ready);
  const nope = client.of("/nope");
  const refusal = eventOf<[ConnectError]>(nope, "connect_error");
  const error = await within(
    assert.rejects(nope.ready, (error: unknown) => {
      assert.ok(error instanceof ConnectError);
      assert.equal(error.code, "invalid_namespace");
      assert.equal(error.namespace, "/nope");
      return true;
    }).then(() => refusal),
  );
  assert.equal(error[0].code, "invalid_namespace");
  assert.equal(nope.connected, false);
  assert.equal(await within(alpha.emitWithAck("echo", "still here")), "still here");
  assert.equal(await within(client.root!.emitWithAck("echo", 1)), 1);
  assert.equal(test.server.namespaces.has("/nope"), false);
});

Deno.test("Connecting a namespace twice returns the same socket", async () => {
  await using test = await startServer();
  const alpha = test.server.of("/alpha");
  let connections = 0;
  alpha.on("connection", (socket) => {
    connections++;
    socket.on("count", () => connections);
  });
  await using client = await connectClient(test.port);
  const first = client.of("/alpha");
  const second = client.of("/alpha");
  assert.equal(first, second);
  await within(first.ready);
  assert.equal(client.of("/alpha"), first);
  assert.equal(await within(first.emitWithAck("count")), 1);
  assert.equal(alpha.sockets.size, 1);
});

Deno.test("A second Connect for a connected namespace gets AlreadyConnected and the first stays open", async () => {
  await using test = await startServer();
  test.server.of("/alpha").on("connection", (socket) => socket.on("echo", (data) => data));
  await using peer = await RawPeer.connect(test.port);
  await peer.write(rootConnect());
  const root = await within(peer.next());
  assert.equal(root?.type === "control" && root.schema, Handshake);

  await peer.write(encodeFrame(Connect, { namespace: "/alpha", channel: 1 }));
  const opened = await within(peer.next());
  assert.ok(opened?.type === "control" && opened.schema === Handshake);
  assert.equal(opened.channel, 1);

  await peer.write(encodeFrame(Connect, { namespace: "/alpha", channel: 2 }));
  const refused = await within(peer.next());
  assert.ok(refused?.type === "control" && refused.schema === ErrorMessage);
  assert.equal(refused.channel, 0);
  assert.equal(refused.value.code, ErrorCode.AlreadyConnected);
  assert.equal(refused.value.namespace, "/alpha");

  // The namespace connected first still answers on its channel.
  await peer.write(encodeFrame(EventName, { id: 0, name: "echo" }));
  await peer.write(encodeFrame(Event, {
    event: 0,
    payloadType: PayloadType.String,
    payload: encoder.encode("still open"),
    ackId: 7,
  }, { channel: 1 }));
  let ack;
  for (let i = 0; i < 10 && ack === undefined; i++) {
    const frame = await within(peer.next());
    assert.ok(frame !== undefined, "the server closed the connection");
    if (frame.type === "control" && frame.schema.name === "Ack") ack = frame;
  }
  assert.ok(ack?.type === "control");
  assert.equal(ack.channel, 1);
  assert.equal(ack.value.ackId, 7);
  assert.equal(new TextDecoder().decode(ack.value.payload as Uint8Array), "still open");
  assert.equal(test.server.of("/alpha").sockets.size, 1);

  // And so does the connection itself.
  await peer.write(encodeFrame(Ping, { timestamp: 5 }));
  let pong;
  for (let i = 0; i < 10 && pong === undefined; i++) {
    const frame = await within(peer.next());
    assert.ok(frame !== undefined, "the server closed the connection");
    if (frame.type === "control" && frame.schema === Pong) pong = frame;
  }
  assert.equal(pong?.type === "control" && pong.value.timestamp, 5);
});

Deno.test("A namespace allowed by a regular expression is made on first connect, announced before its connection", async () => {
  await using test = await startServer();
  const { server } = test;
  const order: string[] = [];
  server.allowNamespaces(/^\/game-\d+$/);
  server.on("namespace", (nsp) => {
    order.push(`namespace ${nsp.name}`);
    nsp.on("connection", (socket) => {
      order.push(`connection ${socket.nsp.name}`);
      socket.on("echo", (data) => data);
    });
  });
  await using client = await connectClient(test.port);
  assert.equal(server.namespaces.has("/game-1"), false);
  const game = await within(client.of("/game-1").ready);
  assert.deepEqual(order, ["namespace /game-1", "connection /game-1"]);
  const nsp = server.namespaces.get("/game-1");
  assert.ok(nsp?.dynamic);
  assert.equal(await within(game.emitWithAck("echo", "dynamic")), "dynamic");

  await assert.rejects(client.of("/game-x").ready, (error: unknown) => {
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, "invalid_namespace");
    return true;
  });
  assert.equal(server.namespaces.has("/game-x"), false);
});

Deno.test("A namespace allowed by a predicate is removed when its last socket leaves, and made again", async () => {
  await using test = await startServer();
  const { server } = test;
  server.allowNamespaces((name) => name.startsWith("/table/"));
  const made: string[] = [];
  server.on("namespace", (nsp) => void made.push(nsp.name));
  await using one = await connectClient(test.port);
  await using two = await connectClient(test.port);
  const first = await within(one.of("/table/7").ready);
  const second = await within(two.of("/table/7").ready);
  assert.deepEqual(made, ["/table/7"], "the second connect reuses the namespace");
  const nsp = server.namespaces.get("/table/7")!;
  assert.equal(nsp.sockets.size, 2);

  const firstGone = eventOf<[DisconnectReason]>(serverSide(nsp, first), "disconnect");
  first.disconnect();
  await firstGone;
  assert.equal(server.namespaces.get("/table/7"), nsp, "one socket is left");

  const secondGone = eventOf<[DisconnectReason]>(serverSide(nsp, second), "disconnect");
  second.disconnect();
  await secondGone;
  assert.equal(server.namespaces.has("/table/7"), false);

  const again = await within(one.of("/table/7").ready);
  assert.ok(again.connected);
  assert.deepEqual(made, ["/table/7", "/table/7"]);
  assert.notEqual(server.namespaces.get("/table/7"), nsp);
});

Deno.test("A namespace made with of() is kept when its last socket leaves", async () => {
  await using test = await startServer();
  const alpha = test.server.of("/alpha");
  await using client = await connectClient(test.port);
  const socket = await within(client.of("/alpha").ready);
  const gone = eventOf(serverSide(alpha, socket), "disconnect");
  socket.disconnect();
  await gone;
  assert.equal(test.server.namespaces.get("/alpha"), alpha);
});

Deno.test("A client leaving one namespace keeps the others, and the server sees client disconnect", async () => {
  await using test = await startServer();
  const { server } = test;
  const alpha = server.of("/alpha");
  server.of("/beta").on("connection", (socket) => socket.on("echo", (data) => data));
  server.root.on("connection", (socket) => socket.on("echo", (data) => data));
  await using client = await connectClient(test.port);
  const a = await within(client.of("/alpha").ready);
  const b = await within(client.of("/beta").ready);
  const onServer = serverSide(alpha, a);
  const rootOnServer = server.root.sockets.get(client.root!.id!)!;
  const serverReason = eventOf<[DisconnectReason]>(onServer, "disconnect");
  const clientReason = eventOf<[DisconnectReason]>(a, "disconnect");
  a.disconnect();
  assert.deepEqual(await serverReason, ["client disconnect"]);
  assert.deepEqual(await clientReason, ["client disconnect"]);
  assert.equal(a.connected, false);
  assert.equal(onServer.connected, false);
  assert.equal(alpha.sockets.size, 0);
  assert.equal(a.emit("anything"), "closed");

  assert.equal(await within(b.emitWithAck("echo", "beta")), "beta");
  assert.equal(await within(client.root!.emitWithAck("echo", "root")), "root");
  assert.ok(rootOnServer.connected);
  assert.equal(server.stats.connections, 1);
});

Deno.test("A socket the server disconnects is told server disconnect, and the namespace connects again", async () => {
  await using test = await startServer();
  const { server } = test;
  const alpha = server.of("/alpha");
  alpha.on("connection", (socket) => socket.on("echo", (data) => data));
  server.root.on("connection", (socket) => socket.on("echo", (data) => data));
  await using client = await connectClient(test.port);
  const first = await within(client.of("/alpha").ready);
  const onServer = serverSide(alpha, first);
  const serverReason = eventOf<[DisconnectReason]>(onServer, "disconnect");
  const clientReason = eventOf<[DisconnectReason]>(first, "disconnect");
  onServer.disconnect();
  assert.deepEqual(await serverReason, ["server disconnect"]);
  assert.deepEqual(await clientReason, ["server disconnect"]);
  assert.equal(first.connected, false);
  assert.equal(client.state, "open", "the connection stays open");
  assert.equal(await within(client.root!.emitWithAck("echo", "root")), "root");

  const second = client.of("/alpha");
  assert.notEqual(second, first, "a disconnected socket is not handed out again");
  await within(second.ready);
  assert.notEqual(second.id, first.id);
  assert.equal(await within(second.emitWithAck("echo", "again")), "again");
  assert.equal(alpha.sockets.size, 1);
});

Deno.test("Disconnecting the root socket on the server closes the whole connection", async () => {
  await using test = await startServer();
  const { server } = test;
  const alpha = server.of("/alpha");
  await using client = await connectClient(test.port);
  const a = await within(client.of("/alpha").ready);
  const rootOnServer = server.root.sockets.get(client.root!.id!)!;
  const alphaReason = eventOf<[DisconnectReason]>(a, "disconnect");
  const closed = eventOf<[DisconnectReason]>(client, "close");
  rootOnServer.disconnect();
  assert.deepEqual(await closed, ["server disconnect"]);
  assert.deepEqual(await alphaReason, ["server disconnect"]);
  assert.equal(alpha.sockets.size, 0);
});
