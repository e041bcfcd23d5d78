/**
 * Bad input and faults on the client, over real loopback sockets: the client is as strict as the
 * server. A fake server (a listener and a `RawPeer`) sends what a real one never would; the
 * client fails with a typed error or reason and releases everything (the sanitizers check),
 * while a well-behaved client of a real server keeps exchanging acknowledged events.
 */

import assert from "node:assert/strict";
import {
  Connect,
  encodeFrame,
  ErrorCode,
  ErrorMessage,
  type Frame,
  Handshake,
  Ping,
  PROTOCOL_VERSION,
  ProtocolError,
  SchemaRegistry,
} from "../protocol/mod.ts";
import type { ServerSocket } from "../server.ts";
import {
  type ClientSocket,
  ConnectError,
  type DisconnectReason,
  GameSocketClient,
  type GameSocketClientOptions,
  SocketClosedError,
} from "../client.ts";
import { connectClient, RawPeer, startServer, type TestServer } from "./harness.ts";
import {
  assertEchoes,
  echoInFlight,
  eventOf,
  nextFrame,
  rejection,
  restFrames,
  within,
} from "./within.ts";

/** A listener on 127.0.0.1 that plays the server by hand. */
interface FakeServer extends AsyncDisposable {
  readonly port: number;
  /** Accepts the next connection as a raw peer. */
  accept(): Promise<RawPeer>;
}

function startFakeServer(): FakeServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return {
    port: listener.addr.port,
    accept: async () => RawPeer.accept(await listener.accept()),
    [Symbol.asyncDispose]: () => {
      try {
        listener.close();
      } catch {
        // Closed already.
      }
      return Promise.resolve();
    },
  };
}

/** A real server whose `/` sockets answer `echo`, and a client of it: the bystander. */
async function startBystander(): Promise<
  { test: TestServer; client: GameSocketClient } & AsyncDisposable
> {
  const test = await startServer();
  test.server.on("connection", (socket: ServerSocket) => socket.on("echo", (value) => value));
  const client = await connectClient(test.port);
  return {
    test,
    client,
    [Symbol.asyncDispose]: async () => {
      await client.close();
      await test.server.close();
    },
  };
}

/** A client that records its `error` events (so none goes to the console). */
function recordingClient(
  options: GameSocketClientOptions = {},
): { client: GameSocketClient; errors: unknown[] } {
  const client = new GameSocketClient(options);
  const errors: unknown[] = [];
  client.on("error", (error) => errors.push(error));
  return { client, errors };
}

/** The fake server's side of a handshake of `/`. */
function handshakeFrame(overrides: Partial<Record<string, unknown>> = {}): Uint8Array {
  return encodeFrame(Handshake, {
    namespace: "/",
    channel: 0,
    socketId: "AAAAAAAAAAAAAAAAAAAAAA",
    protocolVersion: PROTOCOL_VERSION,
    schemaFingerprint: new SchemaRegistry().fingerprint,
    heartbeatInterval: 5000,
    heartbeatTimeout: 15000,
    maxFrameSize: 65536,
    ...overrides,
  }).slice();
}

/** Asserts that a frame is the client's first Connect. */
function assertFirstConnect(frame: Frame | undefined): void {
  assert.ok(frame?.type === "control" && frame.schema === Connect, "expected a Connect");
  assert.equal(frame.channel, 0);
  assert.equal(frame.value.namespace, "/");
  assert.equal(frame.value.protocolVersion, PROTOCOL_VERSION);
}

/**
 * Connects a client to a fake server that answers the first Connect with `reply`; resolves with
 * the connect's ConnectError.
 */
async function connectRefused(
  reply: Uint8Array,
  options: GameSocketClientOptions = {},
): Promise<{ error: ConnectError; errors: unknown[]; client: GameSocketClient }> {
  await using fake = startFakeServer();
  const { client, errors } = recordingClient(options);
  const connecting = client.connect("127.0.0.1", fake.port);
  await using peer = await fake.accept();
  assertFirstConnect(await nextFrame(peer));
  await peer.write(reply);
  const error = await rejection(connecting, ConnectError);
  assert.equal(client.state, "closed");
  assert.equal(client.root, undefined);
  // The client ends the stream: nothing more comes.
  assert.deepEqual(await restFrames(peer), []);
  return { error, errors, client };
}

Deno.test("client closes with limit exceeded when the server sends a frame above maxFrameSize", async () => {
  await using bystander = await startBystander();
  await using fake = startFakeServer();
  const { client, errors } = recordingClient({ maxFrameSize: 1024 });
  await using _client = client;
  const connecting = client.connect("127.0.0.1", fake.port);
  await using peer = await fake.accept();
  assertFirstConnect(await nextFrame(peer));
  await peer.write(handshakeFrame());
  const root = await within(connecting, "the connect");
  const closed = eventOf<[DisconnectReason]>(client, "close");
  const disconnected = eventOf<[DisconnectReason]>(root, "disconnect");
  const during = echoInFlight(bystander.client, 1);
  // A length prefix claiming 100000 bytes (a0 8d 06), a message header, and 8 KiB of its body.
  await peer.write(new Uint8Array([0xa0, 0x8d, 0x06, 0x11, 0x00, ...new Uint8Array(8192)]));
  assert.deepEqual(await closed, ["limit exceeded"]);
  assert.deepEqual(await disconnected, ["limit exceeded"]);
  assert.equal(client.state, "closed");
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof ProtocolError);
  assert.equal(errors[0].code, "frame_too_large");
  // It stopped at the prefix: far less was read than was sent, and nothing waits for the rest.
  assert.ok(client.stats!.bytesIn < 8192, `read ${client.stats!.bytesIn} bytes`);
  assert.equal(root.emit("echo", 1), "closed");
  await restFrames(peer);
  assert.equal(await within(during, "an echo"), 1);
  await assertEchoes(bystander.client, 2);
});

Deno.test("client connect rejects when the server answers with garbage, an unknown channel or a non-Handshake", async () => {
  await using bystander = await startBystander();
  const unknownChannel = encodeFrame(Ping, { timestamp: 1 }, { channel: 5 }).slice();
  const cases: [string, Uint8Array, string][] = [
    ["garbage", new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), "varint_oversized"],
    ["an empty frame", new Uint8Array([0x00]), "empty_frame"],
    ["a frame on an unknown channel", unknownChannel, "unknown_channel"],
    ["a Ping first", encodeFrame(Ping, { timestamp: 1 }).slice(), "protocol_violation"],
    ["a Handshake of another namespace", handshakeFrame({ namespace: "/x" }), "protocol_violation"],
    [
      "a Connect",
      encodeFrame(Connect, { namespace: "/", channel: 0 }).slice(),
      "protocol_violation",
    ],
  ];
  for (const [name, reply, code] of cases) {
    const during = echoInFlight(bystander.client, name);
    const { error, errors } = await connectRefused(reply);
    assert.equal(error.code, "protocol_violation", name);
    assert.equal(error.namespace, "/");
    assert.ok(error.cause instanceof ProtocolError, name);
    assert.equal(error.cause.code, code, name);
    assert.deepEqual(errors, [error.cause], name);
    assert.equal(await within(during, "an echo"), name);
  }
  await assertEchoes(bystander.client, 1);
});

Deno.test("client connect rejects with protocol_mismatch when the server answers in version 2", async () => {
  await using bystander = await startBystander();
  const reply = handshakeFrame();
  reply[1] = 0x20; // header: version 2, kind control
  const { error } = await connectRefused(reply);
  assert.equal(error.code, "protocol_mismatch");
  assert.ok(error.cause instanceof ProtocolError);
  assert.equal(error.cause.code, "unsupported_version");
  // A Handshake that names another protocol version in its fields is refused the same way.
  const { error: named } = await connectRefused(handshakeFrame({ protocolVersion: 2 }));
  assert.equal(named.code, "protocol_mismatch");
  await assertEchoes(bystander.client, 1);
});

Deno.test("client connect rejects with schema_mismatch on the server's refusal or fingerprint", async () => {
  await using bystander = await startBystander();
  const refusal = encodeFrame(ErrorMessage, {
    code: ErrorCode.SchemaMismatch,
    message: "The server's schema fingerprint is 0123456789abcdef",
    namespace: "/",
  }).slice();
  const { error, errors } = await connectRefused(refusal);
  assert.equal(error.code, "schema_mismatch");
  assert.equal(error.namespace, "/");
  assert.match(error.message, /0123456789abcdef/);
  assert.deepEqual(errors, []);
  // A Handshake whose fingerprint differs from the client's is refused by the client itself.
  const { error: own } = await connectRefused(
    handshakeFrame({ schemaFingerprint: "ffffffffffffffff" }),
  );
  assert.equal(own.code, "schema_mismatch");
  assert.match(own.message, /ffffffffffffffff/);
  assert.ok(own.message.includes(new SchemaRegistry().fingerprint), own.message);
  await assertEchoes(bystander.client, 1);
});

Deno.test("client connect rejects with timeout when the server never answers", async () => {
  await using bystander = await startBystander();
  await using fake = startFakeServer();
  const { client, errors } = recordingClient({ connectTimeout: 150 });
  const started = performance.now();
  const connecting = client.connect("127.0.0.1", fake.port);
  await using peer = await fake.accept();
  assertFirstConnect(await nextFrame(peer));
  const during = echoInFlight(bystander.client, 1);
  const error = await rejection(connecting, ConnectError);
  const elapsed = performance.now() - started;
  assert.equal(error.code, "timeout");
  assert.match(error.message, /150 ms/);
  assert.ok(elapsed >= 140, `timed out after ${elapsed} ms`);
  assert.ok(elapsed < 2000, `timed out after ${elapsed} ms`);
  assert.equal(client.state, "closed");
  assert.deepEqual(errors, []);
  assert.deepEqual(await restFrames(peer), []);
  assert.equal(await within(during, "an echo"), 1);
});

Deno.test("client connect rejects with transport when nothing listens on the port", async () => {
  await using bystander = await startBystander();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const { client, errors } = recordingClient();
  const error = await rejection(client.connect("127.0.0.1", port), ConnectError);
  assert.equal(error.code, "transport");
  assert.ok(error.cause instanceof Deno.errors.ConnectionRefused, String(error.cause));
  assert.equal(client.state, "closed");
  assert.deepEqual(errors, []);
  // A client connects once: a second connect is a wrong call, not a network fault.
  await assert.rejects(client.connect("127.0.0.1", port), TypeError);
  await assertEchoes(bystander.client, 1);
});

Deno.test("client socket emits nothing and rejects acks and joins once closed", async () => {
  await using bystander = await startBystander();
  const { test } = bystander;
  test.server.of("/game");
  const client = await connectClient(test.port);
  const root = client.root!;
  const game = await client.of("/game").ready;
  await client.close();
  for (const socket of [root, game] as ClientSocket[]) {
    assert.equal(socket.connected, false);
    assert.equal(socket.emit("echo", 1), "closed");
    assert.equal(socket.to("room").emit("echo", 1), "closed");
    await assert.rejects(socket.emitWithAck("echo", 1), SocketClosedError);
    await assert.rejects(socket.join("room"), SocketClosedError);
    await assert.rejects(socket.leave("room"), SocketClosedError);
  }
  // A namespace asked for after the close cannot be connected.
  assert.throws(() => client.of("/other"), TypeError);
  await assertEchoes(bystander.client, 1);
});

Deno.test("Without reconnection, a client socket rejects pending acks and joins with SocketClosedError when the connection drops", async () => {
  await using bystander = await startBystander();
  await using fake = startFakeServer();
  const { client, errors } = recordingClient({ reconnection: false });
  await using _client = client;
  const connecting = client.connect("127.0.0.1", fake.port);
  await using peer = await fake.accept();
  assertFirstConnect(await nextFrame(peer));
  await peer.write(handshakeFrame());
  const root = await within(connecting, "the connect");
  const closed = eventOf<[DisconnectReason]>(client, "close");
  const ack = rejection(root.emitWithAck("echo", 1, { timeout: 5000 }), SocketClosedError);
  const join = rejection(root.join("room", { timeout: 5000 }), SocketClosedError);
  // The server reads the event name, the event and the join, and then goes away.
  for (let i = 0; i < 3; i++) assert.ok((await nextFrame(peer)) !== undefined);
  peer.close();
  await ack;
  await join;
  assert.deepEqual(await closed, ["transport close"]);
  assert.equal(root.emit("echo", 2), "closed");
  await assert.rejects(root.emitWithAck("echo", 2), SocketClosedError);
  assert.deepEqual(errors, []);
  await assertEchoes(bystander.client, 1);
});

Deno.test("client socket disconnected by the server rejects acks and keeps the other namespaces", async () => {
  await using bystander = await startBystander();
  const { test } = bystander;
  const accepted = eventOf<[ServerSocket]>(test.server.of("/game"), "connection");
  await using client = await connectClient(test.port);
  const game = await client.of("/game").ready;
  const [serverSide] = await accepted;
  const disconnected = eventOf<[DisconnectReason]>(game, "disconnect");
  serverSide.disconnect();
  assert.deepEqual(await disconnected, ["server disconnect"]);
  assert.equal(game.emit("echo", 1), "closed");
  await assert.rejects(game.emitWithAck("echo", 1), SocketClosedError);
  await assert.rejects(game.join("room"), SocketClosedError);
  assert.equal(client.state, "open");
  assert.equal(await client.root!.emitWithAck("echo", 3), 3);
  await assertEchoes(bystander.client, 1);
});
