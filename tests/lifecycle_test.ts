/**
 * Lifecycle over real loopback sockets: listening, a server's shutdown, a client's close, and
 * sockets used after they disconnected.
 */

import assert from "node:assert/strict";
import { Connect } from "../protocol/mod.ts";
import { GameSocketServer, type ServerSocket } from "../server.ts";
import {
  type ClientSocket,
  ConnectError,
  type DisconnectReason,
  GameSocketClient,
  SocketClosedError,
} from "../client.ts";
import { connectClient, RawPeer, startServer, type TestClient } from "./harness.ts";
import { eventOf, rejection, within } from "./within.ts";

Deno.test("server.close() disconnects every client with server shutting down", async () => {
  await using test = await startServer();
  const { server } = test;
  const game = server.of("/game");
  const serverReasons: DisconnectReason[] = [];
  const record = (socket: ServerSocket) =>
    socket.on("disconnect", (reason) => serverReasons.push(reason));
  server.on("connection", record);
  game.on("connection", record);
  let closeEvents = 0;
  server.on("close", () => closeEvents++);

  const clients: TestClient[] = [];
  const reasons: Promise<unknown[]>[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const client = await connectClient(test.port);
      clients.push(client);
      const nsp = await client.of("/game").ready;
      reasons.push(
        eventOf(client, "close"),
        eventOf(client.root!, "disconnect"),
        eventOf(nsp, "disconnect"),
      );
    }
    assert.equal(server.stats.connections, 3);
    await within(server.close(), "server.close()");
    assert.equal(closeEvents, 1);
    assert.equal(server.stats.connections, 0);
    assert.equal(server.root.sockets.size, 0);
    assert.equal(game.sockets.size, 0);
    assert.deepEqual(serverReasons, Array(6).fill("server shutting down"));
    assert.deepEqual(
      await within(Promise.all(reasons), "the disconnects"),
      Array(9).fill(["server shutting down"]),
    );
    for (const client of clients) assert.equal(client.state, "closed");
    // Closing again resolves at once, without a second close event.
    await server.close();
    assert.equal(closeEvents, 1);
  } finally {
    for (const client of clients) await client.close();
  }
});

Deno.test("server.close() flushes queued events before the disconnect", async () => {
  await using test = await startServer();
  const accepted = eventOf<[ServerSocket]>(test.server.root, "connection");
  await using client = await connectClient(test.port);
  const [socket] = await accepted;
  const heard: string[] = [];
  const payload = "x".repeat(1000);
  let count = 0;
  client.root!.on("update", (data) => {
    assert.equal(data, payload);
    count++;
  });
  client.root!.on("bye", (data) => heard.push(`bye ${data}`));
  const disconnected = new Promise<void>((resolve) =>
    client.root!.on("disconnect", (reason) => {
      heard.push(`disconnect ${reason}`);
      resolve();
    })
  );
  // 200 KB queued in the same tick as the close: more than one write's worth.
  for (let i = 0; i < 200; i++) assert.equal(socket.emit("update", payload), "sent");
  assert.equal(socket.emit("bye", "for now"), "sent");
  const closing = test.server.close();
  await within(disconnected, "the disconnect");
  await within(closing, "server.close()");
  assert.equal(count, 200);
  assert.deepEqual(heard, ["bye for now", "disconnect server shutting down"]);
});

Deno.test("server.close() ends connections that have not finished their handshake", async () => {
  await using test = await startServer({ handshakeTimeout: 60_000 });
  await using client = await connectClient(test.port);
  await using peer = await RawPeer.connect(test.port);
  const closing = test.server.close();
  // The half-open peer is told nothing (it has no socket) and its stream ends.
  assert.deepEqual(await within(peer.rest(), "the end of the stream"), []);
  peer.close();
  await within(closing, "server.close()");
  assert.equal(client.state, "closed");
  assert.equal(test.server.stats.connections, 0);
});

Deno.test("client.close() disconnects its server sockets with client disconnect, rooms readable in disconnecting", async () => {
  await using test = await startServer();
  const game = test.server.of("/game");
  const events: string[] = [];
  const track = (socket: ServerSocket) => {
    socket.join(["red", "blue"]);
    socket.on("disconnecting", (reason) => {
      assert.equal(socket.nsp.rooms.get("red")?.has(socket.id), true);
      events.push(`${socket.nsp.name} disconnecting ${reason} ${[...socket.rooms].sort()}`);
    });
    socket.on("disconnect", (reason) => {
      events.push(`${socket.nsp.name} disconnect ${reason} ${[...socket.rooms].sort()}`);
    });
  };
  const ids: string[] = [];
  test.server.on("connection", (socket) => {
    ids[0] = socket.id;
    track(socket);
  });
  game.on("connection", (socket) => {
    ids[1] = socket.id;
    track(socket);
  });
  await using client = await connectClient(test.port);
  await client.of("/game").ready;
  const [rootId, gameId] = ids;
  const disconnected = eventOf(test.server.root.sockets.get(rootId!)!, "disconnect");
  const closed = eventOf<[DisconnectReason]>(client, "close");
  await within(client.close(), "client.close()");
  assert.deepEqual(await closed, ["client disconnect"]);
  await disconnected;
  assert.deepEqual(events, [
    `/game disconnecting client disconnect ${["blue", gameId, "red"].sort()}`,
    `/game disconnect client disconnect `,
    `/ disconnecting client disconnect ${["blue", rootId, "red"].sort()}`,
    `/ disconnect client disconnect `,
  ]);
  assert.equal(game.rooms.has("red"), false);
  assert.equal(test.server.root.rooms.has("blue"), false);
  assert.equal(client.state, "closed");
  // close() is idempotent.
  await client.close();
});

Deno.test("listen() with port 0 reports the real port, and a second listen() rejects", async () => {
  const server = new GameSocketServer({ hostname: "127.0.0.1", port: 0 });
  await using _server = server;
  assert.equal(server.address === undefined, true);
  const address = await server.listen();
  assert.equal(address.transport, "tcp");
  assert.equal(address.hostname, "127.0.0.1");
  assert.ok(address.port > 0 && address.port <= 65535, `port ${address.port}`);
  assert.equal(server.address?.port, address.port);
  await assert.rejects(server.listen(), TypeError);
  await using client = await connectClient(address.port);
  assert.equal(client.state, "open");
  await client.close();
  await server.close();
  await assert.rejects(server.listen(), TypeError);
});

Deno.test("server socket emits nothing and rejects acks once disconnected", async () => {
  await using test = await startServer();
  const game = test.server.of("/game");
  const rootAccepted = eventOf<[ServerSocket]>(test.server.root, "connection");
  const gameAccepted = eventOf<[ServerSocket]>(game, "connection");
  await using client = await connectClient(test.port);
  const clientGame = await client.of("/game").ready;
  const [root] = await rootAccepted;
  const [nsp] = await gameAccepted;
  // An ack still awaited when the socket goes is rejected too (not timed out, not failed).
  clientGame.on("slow", () => new Promise<never>(() => {}));
  const pending = rejection(nsp.emitWithAck("slow", 1, { timeout: 5000 }), SocketClosedError);

  // The server disconnects the namespace socket: the connection stays.
  const gone = eventOf<[DisconnectReason]>(nsp, "disconnect");
  const clientGone = eventOf<[DisconnectReason]>(clientGame, "disconnect");
  nsp.disconnect();
  assert.deepEqual(await gone, ["server disconnect"]);
  assert.deepEqual(await clientGone, ["server disconnect"]);
  await pending;
  assertClosedServerSocket(nsp);
  await assertClosedServerSocketAcks(nsp);
  assert.equal(root.connected, true);
  assert.equal(root.emit("still", "here"), "sent");

  // The client closes: the root socket is done too.
  const rootGone = eventOf<[DisconnectReason]>(root, "disconnect");
  await client.close();
  assert.deepEqual(await rootGone, ["client disconnect"]);
  assertClosedServerSocket(root);
  await assertClosedServerSocketAcks(root);
  assert.equal(test.server.root.sockets.size, 0);
});

function assertClosedServerSocket(socket: ServerSocket): void {
  assert.equal(socket.connected, false);
  assert.equal(socket.emit("hello", "anyone"), "closed");
  assert.equal(socket.emit("hello", "anyone", { volatile: true }), "closed");
  assert.equal(socket.sendRaw(new Uint8Array([1])), "closed");
  socket.join("late");
  assert.equal(socket.rooms.has("late"), false);
}

async function assertClosedServerSocketAcks(socket: ServerSocket): Promise<void> {
  const error = await socket.emitWithAck("hello", 1).then(
    () => assert.fail("emitWithAck resolved on a disconnected socket"),
    (error: unknown) => error,
  );
  assert.ok(error instanceof SocketClosedError);
  assert.equal(error.namespace, socket.nsp.name);
  await assert.rejects(socket.emitWithAck("hello", 2), SocketClosedError);
}

Deno.test("client socket that leaves its namespace disconnects its server socket only", async () => {
  await using test = await startServer();
  const game = test.server.of("/game");
  const gameAccepted = eventOf<[ServerSocket]>(game, "connection");
  test.server.on("connection", (socket) => socket.on("echo", (value) => value));
  await using client = await connectClient(test.port);
  const clientGame: ClientSocket = await client.of("/game").ready;
  const [nsp] = await gameAccepted;
  const gone = eventOf<[DisconnectReason]>(nsp, "disconnect");
  const clientGone = eventOf<[DisconnectReason]>(clientGame, "disconnect");
  clientGame.disconnect();
  assert.deepEqual(await clientGone, ["client disconnect"]);
  assert.deepEqual(await gone, ["client disconnect"]);
  assert.equal(game.sockets.size, 0);
  assert.equal(await client.root!.emitWithAck("echo", 5), 5);
  // The namespace can be connected again on the same connection.
  const again = await client.of("/game").ready;
  assert.equal(again.connected, true);
  assert.equal(game.sockets.size, 1);
});

Deno.test("client.close() while connecting rejects connect with ConnectError closed", async () => {
  await using test = await startServer();
  // While the TCP connect is under way.
  {
    const client = new GameSocketClient();
    const connecting = client.connect("127.0.0.1", test.port);
    await client.close();
    const error = await rejection(connecting, ConnectError);
    assert.equal(error.code, "closed");
    assert.equal(client.state, "closed");
  }
  // From an `open` listener: the connection is up, nothing sent yet.
  {
    const client = new GameSocketClient();
    client.on("open", () => void client.close());
    const error = await rejection(client.connect("127.0.0.1", test.port), ConnectError);
    assert.equal(error.code, "closed");
    assert.equal(client.state, "closed");
  }
  // After the Connect went out, before the Handshake came back (a server that never answers).
  {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const client = new GameSocketClient();
    const connecting = client.connect("127.0.0.1", listener.addr.port);
    await using peer = RawPeer.accept(await listener.accept());
    const connect = await within(peer.next(), "the client's Connect");
    assert.ok(connect?.type === "control" && connect.schema === Connect);
    const closing = client.close();
    // The client half-closes and waits for the server's end before connect() settles.
    assert.deepEqual(await within(peer.rest(), "the end of the stream"), []);
    peer.close();
    const error = await rejection(connecting, ConnectError);
    assert.equal(error.code, "closed");
    await within(closing, "client.close()");
    assert.equal(client.state, "closed");
  }
});

Deno.test("client.close() rejects a namespace connect still pending with ConnectError closed", async () => {
  await using test = await startServer();
  await using client = await connectClient(test.port);
  // The server is not asked yet: of() only queues the Connect, and close() follows at once.
  const pending = client.of("/game");
  const failed = eventOf<[ConnectError]>(pending, "connect_error");
  const closing = client.close();
  const error = await rejection(pending.ready, ConnectError);
  assert.equal(error.code, "closed");
  assert.equal(error.namespace, "/game");
  assert.deepEqual(await failed, [error]);
  await closing;
});
