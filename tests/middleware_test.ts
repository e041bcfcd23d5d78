/**
 * Middleware (`server.use`, `nsp.use`) over real loopback sockets: what it sees, what a refusal
 * does (a `ConnectError` with the reason, and nothing else), and connects it keeps waiting.
 */

import assert from "node:assert/strict";
import { Connect, encodeFrame, ErrorCode, Handshake, Ping } from "../protocol/mod.ts";
import type { MiddlewareContext, ServerSocket } from "../server.ts";
import { ConnectError, GameSocketClient } from "../client.ts";
import { connectClient, RawPeer, rootConnect } from "./harness.ts";
import { assertEchoes, eventOf, nextFrame, rejection, restFrames, within } from "./within.ts";
import { assertErrorFrame, nextClose, startEchoServer } from "./server_probes.ts";

Deno.test("server.use sees the auth payload and address, and what it puts in data is the socket's", async () => {
  await using test = await startEchoServer();
  const seen: MiddlewareContext[] = [];
  test.server.use(async (context) => {
    seen.push(context);
    await Promise.resolve();
    const auth = context.handshake.auth as { name?: string } | undefined;
    context.data.player = auth?.name;
  });
  const connected = eventOf<[ServerSocket]>(test.server.root, "connection");
  await using client = await connectClient(test.port, {}, { auth: { name: "ada" } });
  const [socket] = await within(connected, "the connection");
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.namespace, "/");
  assert.deepEqual(seen[0]!.handshake.auth, { name: "ada" });
  assert.equal(seen[0]!.handshake.address.hostname, "127.0.0.1");
  assert.equal(seen[0]!.handshake.secure, false);
  assert.deepEqual(socket.data, { player: "ada" });
  assert.deepEqual(socket.handshake.auth, { name: "ada" });
  await assertEchoes(client, 1);
});

Deno.test("a refusal by server.use fails the connect with unauthorized and the reason, and nothing else happens", async () => {
  await using test = await startEchoServer();
  const calls: string[] = [];
  test.server.use(({ handshake }) => {
    calls.push("first");
    return (handshake.auth as { token?: string } | undefined)?.token === "good" || "Bad token";
  });
  test.server.use(() => void calls.push("second"));
  let connections = 0;
  test.server.on("connection", () => void connections++);
  await using witness = await connectClient(test.port, {}, { auth: { token: "good" } });
  assert.deepEqual(calls, ["first", "second"]);
  const closed = nextClose(test.server);
  await using refused = new GameSocketClient();
  const error = await rejection(
    refused.connect("127.0.0.1", test.port, { auth: { token: "bad" } }),
    ConnectError,
  );
  assert.equal(error.code, "unauthorized");
  assert.equal(error.namespace, "/");
  assert.equal(error.message, "Bad token");
  assert.equal(refused.state, "closed");
  // The chain stopped at the refusal; no socket was made, no connection event fired.
  assert.deepEqual(calls, ["first", "second", "first"]);
  assert.equal(connections, 1);
  assert.equal(test.server.root.sockets.size, 1);
  assert.equal((await within(closed, "connection_closed")).address.hostname, "127.0.0.1");
  await assertEchoes(witness, 1);
});

Deno.test("a middleware that throws refuses with a generic reason and reports the error", async () => {
  await using test = await startEchoServer();
  const errors: unknown[] = [];
  test.server.on("error", (error) => errors.push(error));
  test.server.use(() => {
    throw new Error("database down");
  });
  await using client = new GameSocketClient();
  const error = await rejection(client.connect("127.0.0.1", test.port), ConnectError);
  assert.equal(error.code, "unauthorized");
  assert.equal(error.message, "Refused by the server");
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as Error).message, "database down");
});

Deno.test("nsp.use refuses one namespace with the reason while / and the others carry on", async () => {
  await using test = await startEchoServer();
  const admin = test.server.of("/admin");
  admin.use(async ({ handshake, data }) => {
    await Promise.resolve();
    if ((handshake.auth as { role?: string } | undefined)?.role !== "admin") return false;
    data.role = "admin";
    return true;
  });
  admin.on("connection", (socket) => socket.on("whoami", () => socket.data.role as string));
  let adminConnections = 0;
  admin.on("connection", () => void adminConnections++);
  await using client = await connectClient(test.port);
  const denied = client.of("/admin", { auth: { role: "guest" } });
  const [error] = await within(eventOf<[ConnectError]>(denied, "connect_error"), "the refusal");
  assert.equal(error.code, "unauthorized");
  assert.equal(error.namespace, "/admin");
  assert.equal(error.message, "Refused by the server");
  assert.equal(adminConnections, 0);
  assert.equal(admin.sockets.size, 0);
  await assertEchoes(client, 1);
  // Asked again with the right payload, it connects.
  const allowed = await within(client.of("/admin", { auth: { role: "admin" } }).ready, "/admin");
  assert.equal(await allowed.emitWithAck("whoami"), "admin");
  assert.equal(adminConnections, 1);
});

Deno.test("a middleware of / that never answers meets the handshake timeout", async () => {
  await using test = await startEchoServer({ handshakeTimeout: 100 });
  const hung = Promise.withResolvers<boolean>();
  test.server.use(() => hung.promise);
  const closed = nextClose(test.server);
  await using peer = await RawPeer.connect(test.port);
  await peer.write(rootConnect());
  const [told, ...rest] = await restFrames(peer);
  assert.equal(assertErrorFrame(told, ErrorCode.LimitExceeded).limit, "handshake_timeout");
  assert.deepEqual(rest, []);
  assert.equal((await within(closed, "connection_closed")).reason, "handshake timeout");
  // Its late answer changes nothing.
  hung.resolve(true);
  await Promise.resolve();
  assert.equal(test.server.root.sockets.size, 0);
});

Deno.test("frames sent while the middleware of / decides are a protocol violation, heartbeats aside", async () => {
  await using test = await startEchoServer();
  const decide = Promise.withResolvers<boolean>();
  test.server.use(() => decide.promise);
  await using peer = await RawPeer.connect(test.port);
  await peer.write(rootConnect());
  await peer.write(encodeFrame(Ping, { timestamp: 1 }));
  decide.resolve(true);
  const handshake = await nextFrame(peer);
  assert.ok(handshake?.type === "control" && handshake.schema === Handshake);
  const second = Promise.withResolvers<boolean>();
  test.server.root.use(() => second.promise);
  await using early = await RawPeer.connect(test.port);
  await early.write(rootConnect());
  await early.write(
    encodeFrame(Connect, { namespace: "/game", channel: 1 }),
  );
  const [refusal, ...rest] = await restFrames(early);
  assertErrorFrame(refusal, ErrorCode.ProtocolViolation);
  assert.deepEqual(rest, []);
  second.resolve(true);
});
