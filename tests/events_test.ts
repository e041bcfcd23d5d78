// Events over real loopback connections: every payload kind both ways, message frames, raw
// frames, reserved names, and what becomes of a handler that throws.
import assert from "node:assert/strict";
import { defineSchema } from "../protocol/mod.ts";
import {
  ConnectError,
  type DisconnectReason,
  type EventInfo,
  message,
  type Payload,
  SchemaMessage,
  type ServerSocket,
} from "../server.ts";
import type { ClientSocket } from "../client.ts";
import { connectClient, startServer } from "./harness.ts";
import { eventOf, home, serverSide, within } from "./within.ts";

const Move = defineSchema({
  name: "Move",
  code: 1,
  version: 0,
  fields: { dx: { id: 0, type: "int8" }, dy: { id: 1, type: "int8" } },
});

const Position = defineSchema({
  name: "Position",
  code: 2,
  version: 0,
  fields: {
    id: { id: 0, type: "uint16" },
    x: { id: 1, type: "int16" },
    y: { id: 2, type: "int16" },
    name: { id: 3, type: "string", optional: true },
  },
});

const schemas = [Move, Position];

/** What kind of payload a value travels as. */
function kindOf(value: Payload): string {
  if (value === undefined) return "none";
  if (value instanceof Uint8Array) return "bytes";
  if (typeof value === "string") return "string";
  if (value instanceof SchemaMessage) return "message";
  return "json";
}

/** One of each kind, with the edge cases of each. */
const PAYLOADS: readonly Payload[] = [
  undefined,
  new Uint8Array([0, 1, 127, 128, 255]),
  new Uint8Array(0),
  "hello",
  "",
  "Вася играет 🎮 漢字",
  { name: "Вася", score: 12, tags: ["a", "b"], nested: { ok: true, none: null } },
  [1, "two", null, false, { three: 3 }],
  42,
  -0.5,
  0,
  true,
  false,
  null,
  message(Move, { dx: -3, dy: 127 }),
  message(Position, { id: 7, x: -300, y: 300, name: "Ёж" }),
];

/** Checks that `received` is `sent`, of the same kind. */
function assertSamePayload(received: unknown, sent: Payload): void {
  assert.equal(kindOf(received as Payload), kindOf(sent), `kind of ${String(sent)}`);
  if (sent instanceof SchemaMessage) {
    assert.ok(received instanceof SchemaMessage);
    assert.equal(received.schema, sent.schema);
    assert.deepEqual(received.value, sent.value);
  } else if (sent instanceof Uint8Array) {
    assert.deepEqual([...(received as Uint8Array)], [...sent]);
  } else {
    assert.deepEqual(received, sent);
  }
}

/** Waits until everything the server sent `client` before now has arrived (frames keep order). */
async function settle(server: ServerSocket, client: ClientSocket): Promise<void> {
  const marker = eventOf(client, "marker");
  server.emit("marker");
  await marker;
}

Deno.test("Every payload kind travels from client to server as the same kind", async () => {
  await using test = await startServer({ schemas });
  const received: Payload[] = [];
  let all: () => void = () => {};
  const done = new Promise<void>((resolve) => all = resolve);
  test.server.root.on("connection", (socket) => {
    socket.on("kind", (data) => {
      received.push(data);
      if (received.length === PAYLOADS.length) all();
    });
  });
  await using client = await connectClient(test.port, { schemas });
  for (const payload of PAYLOADS) assert.equal(client.root!.emit("kind", payload), "sent");
  await within(done, "every payload");
  PAYLOADS.forEach((sent, i) => assertSamePayload(received[i], sent));
});

Deno.test("Every payload kind travels from server to client as the same kind", async () => {
  await using test = await startServer({ schemas });
  const connected = eventOf<[ServerSocket]>(test.server.root, "connection");
  await using client = await connectClient(test.port, { schemas });
  const [socket] = await connected;
  const received: [Payload, EventInfo][] = [];
  let all: () => void = () => {};
  const done = new Promise<void>((resolve) => all = resolve);
  client.root!.on("kind", (data, info) => {
    received.push([data, info]);
    if (received.length === PAYLOADS.length) all();
  });
  for (const payload of PAYLOADS) assert.equal(socket.emit("kind", payload), "sent");
  await within(done, "every payload");
  PAYLOADS.forEach((sent, i) => {
    assertSamePayload(received[i]![0], sent);
    assert.deepEqual(received[i]![1], { wantsAck: false });
  });
});

Deno.test("Acknowledgement replies carry every payload kind both ways", async () => {
  await using test = await startServer({ schemas });
  const connected = eventOf<[ServerSocket]>(test.server.root, "connection");
  test.server.root.on("connection", (socket) => socket.on("echo", (data) => data));
  await using client = await connectClient(test.port, { schemas });
  const [socket] = await connected;
  client.root!.on("echo", (data) => data);
  for (const payload of PAYLOADS) {
    assertSamePayload(await within(client.root!.emitWithAck("echo", payload)), payload);
    assertSamePayload(await within(socket.emitWithAck("echo", payload)), payload);
  }
});

Deno.test("Message frames travel both ways through send and onMessage", async () => {
  await using test = await startServer({ schemas });
  const nsp = test.server.of("/home");
  await using client = await connectClient(test.port, { schemas });
  const socket = await home(client);
  const onServer = serverSide(nsp, socket);

  const atServer = new Promise<unknown>((resolve) => onServer.onMessage(Position, resolve));
  assert.equal(socket.send(Position, { id: 1, x: -2, y: 3, name: "Ада" }), "sent");
  assert.deepEqual(await within(atServer), { id: 1, x: -2, y: 3, name: "Ада" });

  const atClient = new Promise<unknown>((resolve) => socket.onMessage(Move, resolve));
  assert.equal(onServer.send(Move, { dx: 1, dy: -1 }), "sent");
  assert.deepEqual(await within(atClient), { dx: 1, dy: -1 });

  // A message on one schema is not heard by another's listener.
  const moves: unknown[] = [];
  onServer.onMessage(Move, (value) => void moves.push(value));
  const second = new Promise<unknown>((resolve) => onServer.onMessage(Position, resolve));
  socket.send(Position, { id: 2, x: 0, y: 0 });
  assert.deepEqual(await within(second), { id: 2, x: 0, y: 0 });
  assert.deepEqual(moves, []);
});

Deno.test("A broadcast message frame reaches every targeted socket", async () => {
  await using test = await startServer({ schemas });
  const nsp = test.server.of("/home");
  await using c1 = await connectClient(test.port, { schemas });
  await using c2 = await connectClient(test.port, { schemas });
  const [a, b] = [await home(c1), await home(c2)];
  await within(a.join("red"));
  const heardA: unknown[] = [];
  const heardB: unknown[] = [];
  a.onMessage(Move, (value) => void heardA.push(value));
  b.onMessage(Move, (value) => void heardB.push(value));

  assert.deepEqual(nsp.send(Move, { dx: 5, dy: 5 }), {
    sent: 2,
    sentUdp: 0,
    dropped: 0,
    overflowed: 0,
    unavailable: 0,
  });
  assert.equal(nsp.to("red").send(Move, { dx: 6, dy: 6 }).sent, 1);
  for (const socket of [a, b]) await settle(serverSide(nsp, socket), socket);
  assert.deepEqual(heardA, [{ dx: 5, dy: 5 }, { dx: 6, dy: 6 }]);
  assert.deepEqual(heardB, [{ dx: 5, dy: 5 }]);
});

Deno.test("With allowRaw, raw frames arrive as raw events both ways", async () => {
  await using test = await startServer({ allowRaw: true });
  const nsp = test.server.of("/home");
  await using client = await connectClient(test.port, { allowRaw: true });
  const socket = await home(client);
  const onServer = serverSide(nsp, socket);

  const atServer = eventOf<[Uint8Array]>(onServer, "raw");
  assert.equal(socket.sendRaw(new Uint8Array([0xca, 0xfe, 0xba, 0xbe])), "sent");
  assert.deepEqual([...(await atServer)[0]], [0xca, 0xfe, 0xba, 0xbe]);

  const atClient = eventOf<[Uint8Array]>(socket, "raw");
  assert.equal(onServer.sendRaw(new Uint8Array([1, 2, 3])), "sent");
  assert.deepEqual([...(await atClient)[0]], [1, 2, 3]);
  assert.ok(socket.connected && onServer.connected);
});

Deno.test("Without allowRaw, a raw frame from the client closes its connection with protocol error", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using client = await connectClient(test.port);
  const clientErrors: unknown[] = [];
  client.on("error", (error) => void clientErrors.push(error));
  const socket = await home(client);
  const onServer = serverSide(nsp, socket);
  const rootOnServer = test.server.root.sockets.get(client.root!.id!)!;
  const reason = eventOf<[DisconnectReason]>(onServer, "disconnect");
  const rootReason = eventOf<[DisconnectReason]>(rootOnServer, "disconnect");
  const closed = eventOf<[DisconnectReason]>(client, "close");
  socket.sendRaw(new Uint8Array([1]));
  assert.deepEqual(await reason, ["protocol error"]);
  assert.deepEqual(await rootReason, ["protocol error"]);
  await closed;
  assert.equal(client.state, "closed");
  assert.equal(socket.connected, false);
  // The server's last words name the fault.
  assert.equal(clientErrors.length, 1);
  assert.ok(clientErrors[0] instanceof ConnectError);
  assert.equal(clientErrors[0].code, "protocol_violation");
});

Deno.test("Without allowRaw, a raw frame from the server closes the client with protocol error", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using client = await connectClient(test.port);
  const clientErrors: unknown[] = [];
  client.on("error", (error) => void clientErrors.push(error));
  const socket = await home(client);
  const closed = eventOf<[DisconnectReason]>(client, "close");
  const reason = eventOf<[DisconnectReason]>(socket, "disconnect");
  serverSide(nsp, socket).sendRaw(new Uint8Array([1]));
  assert.deepEqual(await closed, ["protocol error"]);
  assert.deepEqual(await reason, ["protocol error"]);
  assert.equal(clientErrors.length, 1, "the fault is reported on the client's error event");
});

Deno.test("Reserved event names are refused with a TypeError at emit and on", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using client = await connectClient(test.port);
  const socket = await home(client);
  const onServer = serverSide(nsp, socket);

  assert.throws(() => socket.emit("disconnect"), TypeError);
  assert.throws(() => client.root!.emit("connect"), TypeError);
  assert.throws(() => socket.on("connection", () => {}), TypeError);
  assert.throws(() => socket.to("room").emit("raw"), TypeError);
  await assert.rejects(socket.emitWithAck("error"), TypeError);

  assert.throws(() => onServer.emit("disconnect"), TypeError);
  assert.throws(() => onServer.on("connection", () => {}), TypeError);
  assert.throws(() => onServer.on("connect", () => {}), TypeError);
  assert.throws(() => onServer.once("room_joined", () => {}), TypeError);
  await assert.rejects(onServer.emitWithAck("ping"), TypeError);
  assert.throws(() => nsp.emit("disconnecting"), TypeError);
  assert.throws(() => nsp.to("room").emit("close"), TypeError);
  assert.throws(() => onServer.to("room").emit("newListener"), TypeError);
  assert.throws(() => onServer.emit(""), TypeError);
  assert.throws(() => onServer.emit("x".repeat(256)), TypeError);

  // Nothing was sent: the connection is still in order.
  onServer.on("fine", () => "still fine");
  assert.equal(await within(socket.emitWithAck("fine")), "still fine");
});

Deno.test("A handler that throws is reported on its socket's error event and the server keeps serving", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  const serverErrors: unknown[] = [];
  test.server.on("error", (error) => void serverErrors.push(error));
  nsp.on("connection", (socket) => {
    socket.on("boom", () => {
      throw new Error("boom");
    });
    socket.on("later", async () => {
      await Promise.resolve();
      throw new Error("later boom");
    });
    socket.on("echo", (data) => data);
  });
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  const [a, b] = [await home(c1), await home(c2)];
  const onServer = serverSide(nsp, a);
  const reported = eventOf<[Error]>(onServer, "error");
  a.emit("boom");
  assert.equal((await reported)[0].message, "boom");
  const again = eventOf<[Error]>(onServer, "error");
  a.emit("later");
  assert.equal((await again)[0].message, "later boom");

  assert.equal(await within(b.emitWithAck("echo", "other client")), "other client");
  assert.equal(await within(a.emitWithAck("echo", "same client")), "same client");
  assert.ok(onServer.connected);
  assert.deepEqual(serverErrors, [], "the socket's listener took the errors");
});

Deno.test("A handler's error goes to the namespace's error event, else to the server's", async () => {
  await using test = await startServer();
  const withListener = test.server.of("/home");
  const without = test.server.of("/bare");
  for (const nsp of [withListener, without]) {
    nsp.on("connection", (socket) => {
      socket.on("boom", () => {
        throw new RangeError(`boom in ${socket.nsp.name}`);
      });
    });
  }
  await using client = await connectClient(test.port);
  const socket = await home(client);
  const bare = await within(client.of("/bare").ready);

  const inNamespace = eventOf<[Error, ServerSocket]>(withListener, "error");
  socket.emit("boom");
  const [error, where] = await inNamespace;
  assert.ok(error instanceof RangeError);
  assert.equal(error.message, "boom in /home");
  assert.equal(where, serverSide(withListener, socket));

  const reported = new Promise<unknown>((resolve) => test.server.on("error", resolve));
  bare.emit("boom");
  const serverError = await within(reported);
  assert.ok(serverError instanceof RangeError);
  assert.equal(serverError.message, "boom in /bare");
});

Deno.test("With closeOnError, a socket whose handler throws is disconnected", async () => {
  await using test = await startServer({ closeOnError: true });
  const nsp = test.server.of("/home");
  const errors: unknown[] = [];
  nsp.on("error", (error) => void errors.push(error));
  nsp.on("connection", (socket) => {
    socket.on("boom", () => {
      throw new Error("boom");
    });
  });
  await using client = await connectClient(test.port);
  const socket = await home(client);
  const onServer = serverSide(nsp, socket);
  const serverReason = eventOf<[DisconnectReason]>(onServer, "disconnect");
  const clientReason = eventOf<[DisconnectReason]>(socket, "disconnect");
  socket.emit("boom");
  assert.deepEqual(await serverReason, ["server disconnect"]);
  assert.deepEqual(await clientReason, ["server disconnect"]);
  assert.equal(errors.length, 1);
  assert.equal(client.state, "open", "only the namespace's socket is disconnected");
});

Deno.test("A client handler that throws is reported on the client socket's error event", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using client = await connectClient(test.port);
  const socket = await home(client);
  socket.on("boom", () => {
    throw new Error("client boom");
  });
  socket.on("echo", (data) => data);
  const reported = eventOf<[Error]>(socket, "error");
  const onServer = serverSide(nsp, socket);
  onServer.emit("boom");
  assert.equal((await reported)[0].message, "client boom");
  assert.equal(await within(onServer.emitWithAck("echo", "still")), "still");
});

Deno.test("onAny hears every application event, before its own listeners, on both sides", async () => {
  await using test = await startServer();
  const heardByServer: unknown[] = [];
  const connected = eventOf<[ServerSocket]>(test.server.root, "connection");
  await using client = await connectClient(test.port);
  const [socket] = await connected;
  socket.onAny((event, data, info) => heardByServer.push([event, data, info.wantsAck]));
  socket.on("ping?", () => {
    heardByServer.push("handler");
    return "pong!";
  });
  const root = client.root!;
  root.emit("first", 1);
  assert.equal(await within(root.emitWithAck("ping?", "x")), "pong!");
  assert.deepEqual(heardByServer, [["first", 1, false], ["ping?", "x", true], "handler"]);

  const heardByClient: unknown[] = [];
  const listener = (event: string, data: unknown) => void heardByClient.push([event, data]);
  root.onAny(listener);
  const arrived = eventOf(root, "news");
  socket.emit("news", { n: 1 });
  await arrived;
  root.offAny(listener);
  const later = eventOf(root, "news");
  socket.emit("news", { n: 2 });
  await later;
  assert.deepEqual(heardByClient, [["news", { n: 1 }]]);
});
