/**
 * Namespaces with schema sets of their own: a namespace made with `server.of(name, { schemas })`
 * resolves message frames and message payloads against its own set, its fingerprint is checked
 * at its connect only, and the connection's other namespaces are not affected.
 */

import assert from "node:assert/strict";
import { Connect, defineSchema, encodeFrame, SchemaRegistry } from "../protocol/mod.ts";
import { ConnectError, type DisconnectReason, message, SchemaMessage } from "../client.ts";
import type { ServerSocket } from "../server.ts";
import { connectClient, RawPeer, rootConnect, startServer } from "./harness.ts";
import { eventOf, rejection, serverSide, within } from "./within.ts";

const Update = defineSchema({
  name: "Update",
  code: 1,
  version: 0,
  fields: { x: { id: 0, type: "int16" }, t: { id: 1, type: "float64" } },
});
// The same code and version as Update, another shape: only one namespace may know each.
const Chat = defineSchema({
  name: "Chat",
  code: 1,
  version: 0,
  fields: { text: { id: 0, type: "string" } },
});

Deno.test("A namespace with its own schemas exchanges its messages beside a namespace with others", async () => {
  await using test = await startServer({ schemas: [Chat] });
  const bench = test.server.of("/bench", { schemas: [Update] });
  const chat = test.server.of("/chat");
  await using client = await connectClient(test.port, { schemas: [Chat] });
  const benchSocket = await within(client.of("/bench", { schemas: [Update] }).ready);
  const chatSocket = await within(client.of("/chat").ready);
  assert.equal(benchSocket.schemas.fingerprint, new SchemaRegistry([Update]).fingerprint);
  assert.equal(chatSocket.schemas, client.options.schemas);

  // Message frames with the same code resolve per namespace, both ways.
  const onServer = new Promise((resolve) =>
    serverSide(bench, benchSocket).onMessage(Update, resolve)
  );
  benchSocket.send(Update, { x: 3, t: 1.5 });
  assert.deepEqual(await within(onServer), { x: 3, t: 1.5 });
  const onClient = new Promise((resolve) => chatSocket.onMessage(Chat, resolve));
  chat.send(Chat, { text: "hi" });
  assert.deepEqual(await within(onClient), { text: "hi" });

  // Message payloads inside events resolve per namespace too.
  const payload = eventOf<[unknown]>(benchSocket, "state");
  bench.emit("state", message(Update, { x: -1, t: 2 }));
  const [received] = await payload;
  assert.ok(received instanceof SchemaMessage);
  assert.equal(received.schema, Update);
  assert.deepEqual(received.value, { x: -1, t: 2 });
});

Deno.test("A namespace connect with other schemas is refused with schema_mismatch; the rest goes on", async () => {
  await using test = await startServer();
  test.server.of("/bench", { schemas: [Update] });
  const home = test.server.of("/home");
  home.on("connection", (socket) => socket.on("echo", (data) => data));
  await using client = await connectClient(test.port);
  const refused = await rejection(client.of("/bench").ready, ConnectError);
  assert.equal(refused.code, "schema_mismatch");
  assert.equal(refused.namespace, "/bench");
  assert.match(refused.message, new RegExp(new SchemaRegistry([Update]).fingerprint));
  const other = await rejection(client.of("/bench", { schemas: [Chat] }).ready, ConnectError);
  assert.equal(other.code, "schema_mismatch");
  const homeSocket = await within(client.of("/home").ready);
  assert.equal(await within(homeSocket.emitWithAck("echo", 7)), 7);
  // With the right set it connects.
  const bench = await within(client.of("/bench", { schemas: [Update] }).ready);
  assert.ok(bench.connected);
});

Deno.test("server.of refuses schemas for / and for a namespace that exists", async () => {
  await using test = await startServer();
  test.server.of("/made");
  assert.throws(() => test.server.of("/", { schemas: [Update] }), TypeError);
  assert.throws(() => test.server.of("/made", { schemas: [Update] }), TypeError);
  assert.equal(test.server.of("/made").schemas, test.server.options.schemas);
});

Deno.test("A message frame of one namespace's schema on another namespace's channel is a protocol error", async () => {
  await using test = await startServer();
  const bench = test.server.of("/bench", { schemas: [Update] });
  test.server.of("/plain");
  await using witness = await connectClient(test.port);
  await using peer = await RawPeer.connect(test.port);
  const connected = eventOf<[ServerSocket]>(bench, "connection");
  await peer.write(rootConnect());
  await peer.write(encodeFrame(Connect, {
    namespace: "/bench",
    channel: 1,
    schemaFingerprint: new SchemaRegistry([Update]).fingerprint,
  }));
  await peer.write(encodeFrame(Connect, { namespace: "/plain", channel: 2 }));
  const [socket] = await connected;
  // On its own channel, the frame is a message of /bench.
  const heard = new Promise((resolve) => socket.onMessage(Update, resolve));
  await peer.write(encodeFrame(Update, { x: 5, t: 0 }, { channel: 1 }));
  assert.deepEqual(await within(heard), { x: 5, t: 0 });
  // On /plain's channel, Update is unknown: the connection closes, the witness carries on.
  const gone = eventOf<[DisconnectReason]>(socket, "disconnect");
  await peer.write(encodeFrame(Update, { x: 5, t: 0 }, { channel: 2 }));
  assert.deepEqual(await gone, ["protocol error"]);
  assert.equal(bench.sockets.size, 0);
  assert.ok(witness.root?.connected);
});
