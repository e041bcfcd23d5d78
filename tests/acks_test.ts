// Acknowledgements over real loopback connections: replies both ways, handler failures,
// timeouts, broadcasts that collect one result per recipient, stray acks, and disconnects.
import assert from "node:assert/strict";
import {
  Ack,
  encodeFrame,
  Event,
  type Frame,
  type MessageFrame,
  PayloadType,
  Ping,
  Pong,
  type Schema,
} from "../protocol/mod.ts";
import {
  AckError,
  type AckResult,
  AckTimeoutError,
  type Payload,
  type ServerSocket,
  SocketClosedError,
} from "../server.ts";
import { connectClient, RawPeer, rootConnect, startServer } from "./harness.ts";
import { eventOf, home, serverSide, within } from "./within.ts";

const encoder = new TextEncoder();

/** A promise that never settles: a handler that never answers. It holds no timer or resource. */
const never = () => new Promise<never>(() => {});

/** Reads frames until one of `schema` arrives (a bounded number of them). */
async function nextOf(peer: RawPeer, schema: Schema<object>): Promise<MessageFrame> {
  for (let i = 0; i < 20; i++) {
    const frame: Frame | undefined = await within(peer.next(), `a ${schema.name} frame`);
    assert.ok(frame !== undefined, `the connection ended before a ${schema.name} frame`);
    if (frame.type === "control" && frame.schema === schema) return frame as MessageFrame;
  }
  assert.fail(`no ${schema.name} frame among the next 20`);
}

/** Sends a ping and waits for its pong: everything the peer wrote before has been handled. */
async function roundTrip(peer: RawPeer, timestamp: number): Promise<void> {
  await peer.write(encodeFrame(Ping, { timestamp }));
  for (let i = 0; i < 20; i++) {
    const pong = await nextOf(peer, Pong);
    if (pong.value.timestamp === timestamp) return;
  }
  assert.fail("no pong");
}

Deno.test("emitWithAck from the client resolves with the server handler's reply, sync or async", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  nsp.on("connection", (socket) => {
    socket.on("add", (data) => (data as number) + 1);
    socket.on("slowAdd", async (data) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return (data as number) + 2;
    });
    socket.on("wants", (_data, info) => info.wantsAck);
  });
  await using client = await connectClient(test.port);
  const socket = await home(client);
  assert.equal(await within(socket.emitWithAck("add", 41)), 42);
  assert.equal(await within(socket.emitWithAck("slowAdd", 40)), 42);
  assert.equal(await within(socket.emitWithAck("wants")), true);
  assert.deepEqual(socket.ackStats, { pending: 0, ignored: 0 });
});

Deno.test("emitWithAck from the server resolves with the client handler's reply, sync or async", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using client = await connectClient(test.port);
  const socket = await home(client);
  socket.on("add", (data) => (data as number) + 1);
  socket.on("slowAdd", async (data) => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return { sum: (data as number) + 2 };
  });
  const onServer = serverSide(nsp, socket);
  assert.equal(await within(onServer.emitWithAck("add", 1)), 2);
  assert.deepEqual(await within(onServer.emitWithAck("slowAdd", 1)), { sum: 3 });
  assert.equal(onServer.stats.pendingAcks, 0);
});

Deno.test("A handler that throws or rejects answers with an AckError, both ways", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  nsp.on("connection", (socket) => {
    socket.on("error", () => {}); // Reported here; the ack tells the client.
    socket.on("throws", () => {
      throw new Error("server says no");
    });
    socket.on("rejects", () => Promise.reject(new Error("server says later no")));
  });
  await using client = await connectClient(test.port);
  const socket = await home(client);
  socket.on("error", () => {});
  socket.on("throws", () => {
    throw new Error("client says no");
  });

  const isAckError = (event: string, message: string) => (error: unknown) => {
    assert.ok(error instanceof AckError);
    assert.equal(error.event, event);
    assert.equal(error.message, message);
    return true;
  };
  await within(
    assert.rejects(socket.emitWithAck("throws"), isAckError("throws", "server says no")),
  );
  await within(
    assert.rejects(socket.emitWithAck("rejects"), isAckError("rejects", "server says later no")),
  );
  await within(
    assert.rejects(
      serverSide(nsp, socket).emitWithAck("throws"),
      isAckError("throws", "client says no"),
    ),
  );
});

Deno.test("An event nobody handles answers with an AckError, both ways", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using client = await connectClient(test.port);
  const socket = await home(client);
  await within(assert.rejects(socket.emitWithAck("unheard", 1), (error: unknown) => {
    assert.ok(error instanceof AckError);
    assert.match(error.message, /unheard/);
    return true;
  }));
  await within(assert.rejects(serverSide(nsp, socket).emitWithAck("unheard"), AckError));
});

Deno.test("No acknowledgement within the timeout rejects with AckTimeoutError, both ways", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  nsp.on("connection", (socket) => socket.on("stall", never));
  await using client = await connectClient(test.port);
  const socket = await home(client);
  socket.on("stall", never);
  const onServer = serverSide(nsp, socket);

  await within(assert.rejects(socket.emitWithAck("stall", 1, { timeout: 50 }), (error: unknown) => {
    assert.ok(error instanceof AckTimeoutError);
    assert.equal(error.event, "stall");
    assert.equal(error.timeout, 50);
    return true;
  }));
  assert.equal(socket.ackStats.pending, 0);
  await within(assert.rejects(onServer.emitWithAck("stall", 1, { timeout: 50 }), AckTimeoutError));
  assert.equal(onServer.stats.pendingAcks, 0);
  assert.ok(socket.connected && onServer.connected, "a timeout does not disconnect");
});

Deno.test("The ackTimeout options set the default wait", async () => {
  await using test = await startServer({ ackTimeout: 40 });
  const nsp = test.server.of("/home");
  nsp.on("connection", (socket) => socket.on("stall", never));
  await using client = await connectClient(test.port, { ackTimeout: 40 });
  const socket = await home(client);
  socket.on("stall", never);
  await within(assert.rejects(socket.emitWithAck("stall"), AckTimeoutError));
  await within(assert.rejects(serverSide(nsp, socket).emitWithAck("stall"), AckTimeoutError));
  await within(assert.rejects(
    nsp.emitWithAck("stall").then((results) => {
      throw results[0]!.ok ? new Error("answered") : results[0]!.error;
    }),
    AckTimeoutError,
  ));
});

Deno.test("A broadcast emitWithAck gives one result per recipient, a silent one timing out", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  await using c3 = await connectClient(test.port);
  await using c4 = await connectClient(test.port);
  const [quick, slow, silent, outsider] = [
    await home(c1),
    await home(c2),
    await home(c3),
    await home(c4),
  ];
  for (const socket of [quick, slow, silent]) await within(socket.join("table"));
  quick.on("vote", (data) => `quick ${data}`);
  slow.on("vote", async (data) => {
    await new Promise((resolve) => setTimeout(resolve, 10));
    return `slow ${data}`;
  });
  silent.on("vote", never);
  let outsiderAsked = false;
  outsider.on("vote", () => void (outsiderAsked = true));

  const results = await within(nsp.to("table").emitWithAck("vote", "yes", { timeout: 100 }));
  assert.equal(results.length, 3);
  const byId = new Map<string, AckResult<unknown>>(results.map((r) => [r.socketId, r]));
  assert.deepEqual(byId.get(quick.id!), { socketId: quick.id, ok: true, value: "quick yes" });
  assert.deepEqual(byId.get(slow.id!), { socketId: slow.id, ok: true, value: "slow yes" });
  const timedOut = byId.get(silent.id!);
  assert.ok(timedOut !== undefined && !timedOut.ok);
  assert.ok(timedOut.error instanceof AckTimeoutError);
  assert.equal(outsiderAsked, false);
  assert.equal(serverSide(nsp, silent).stats.pendingAcks, 0);
});

Deno.test("A broadcast emitWithAck reports no handler and a disconnect as failed results", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  await using c3 = await connectClient(test.port);
  const [answers, unhandled, leaving] = [await home(c1), await home(c2), await home(c3)];
  answers.on("vote", () => 1);
  leaving.on("vote", never); // First, so that its promise is the reply.
  const asked = eventOf(leaving, "vote");

  const collecting = nsp.emitWithAck("vote", undefined, { timeout: 2000 });
  await asked;
  leaving.disconnect();
  const results = await within(collecting);
  assert.equal(results.length, 3);
  const byId = new Map<string, AckResult<unknown>>(results.map((r) => [r.socketId, r]));
  assert.deepEqual(byId.get(answers.id!), { socketId: answers.id, ok: true, value: 1 });
  const noHandler = byId.get(unhandled.id!);
  assert.ok(noHandler !== undefined && !noHandler.ok && noHandler.error instanceof AckError);
  const gone = byId.get(leaving.id!);
  assert.ok(gone !== undefined && !gone.ok && gone.error instanceof SocketClosedError);

  assert.deepEqual(await within(nsp.to("nobody").emitWithAck("vote")), [], "no recipients");
});

Deno.test("Late, duplicate and unknown acks are ignored and counted, never thrown", async () => {
  await using test = await startServer();
  const connected = eventOf<[ServerSocket]>(test.server.root, "connection");
  const serverErrors: unknown[] = [];
  test.server.on("error", (error) => void serverErrors.push(error));
  await using peer = await RawPeer.connect(test.port);
  await peer.write(rootConnect());
  const [socket] = await connected;
  const ack = (ackId: number, text: string) =>
    encodeFrame(Ack, { ackId, payloadType: PayloadType.String, payload: encoder.encode(text) });

  // An answer for an ack id never used.
  const answered = socket.emitWithAck("question", "first", { timeout: 2000 });
  const { ackId } = (await nextOf(peer, Event)).value as { ackId: number };
  await peer.write(ack(ackId + 1000, "unknown"));
  await roundTrip(peer, 1);
  assert.equal(socket.stats.ignoredAcks, 1);
  assert.equal(socket.stats.pendingAcks, 1, "the real question is still awaited");

  // The right answer, then the same answer again.
  await peer.write(ack(ackId, "answer"));
  assert.equal(await within(answered), "answer");
  await peer.write(ack(ackId, "duplicate"));
  await roundTrip(peer, 2);
  assert.equal(socket.stats.ignoredAcks, 2);

  // An answer after the timeout.
  const late = socket.emitWithAck("question", "second", { timeout: 30 });
  const second = (await nextOf(peer, Event)).value as { ackId: number };
  await within(assert.rejects(late, AckTimeoutError));
  await peer.write(ack(second.ackId, "too late"));
  await peer.write(encodeFrame(Ack, { ackId: 99999, payloadType: 0, error: "unknown failure" }));
  await roundTrip(peer, 3);
  assert.equal(socket.stats.ignoredAcks, 4);
  assert.equal(socket.stats.pendingAcks, 0);
  assert.ok(socket.connected);
  assert.deepEqual(serverErrors, []);
});

Deno.test("Awaited acks reject with SocketClosedError when the socket disconnects", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  nsp.on("connection", (socket) => socket.on("stall", never));
  await using client = await connectClient(test.port);
  const socket = await home(client);
  socket.on("stall", never);
  const onServer = serverSide(nsp, socket);

  // The server disconnects the socket: both sides' awaited acks fail.
  const asked = new Promise<void>((resolve) => onServer.once("stall", () => resolve()));
  const clientAwaits = assert.rejects(socket.emitWithAck("stall"), SocketClosedError);
  const serverAwaits = assert.rejects(onServer.emitWithAck("stall"), SocketClosedError);
  await within(asked);
  onServer.disconnect();
  await within(clientAwaits);
  await within(serverAwaits);
  assert.equal(socket.ackStats.pending, 0);
  assert.equal(onServer.stats.pendingAcks, 0);
  await assert.rejects(socket.emitWithAck("stall"), SocketClosedError);
  await assert.rejects(onServer.emitWithAck("stall"), SocketClosedError);

  // The client leaves: likewise.
  const again = await within(client.of("/home").ready);
  again.on("stall", never);
  const onServerAgain = serverSide(nsp, again);
  const stalled = eventOf<[Payload]>(again, "stall");
  const leaving = assert.rejects(onServerAgain.emitWithAck("stall"), SocketClosedError);
  const leaverAwaits = assert.rejects(again.emitWithAck("stall"), SocketClosedError);
  await stalled;
  again.disconnect();
  await within(leaving);
  await within(leaverAwaits);
});

Deno.test("Closing the client rejects every awaited ack with SocketClosedError", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  nsp.on("connection", (socket) => socket.on("stall", never));
  test.server.root.on("connection", (socket) => socket.on("stall", never));
  await using client = await connectClient(test.port);
  const socket = await home(client);
  const both = [
    assert.rejects(socket.emitWithAck("stall"), SocketClosedError),
    assert.rejects(client.root!.emitWithAck("stall"), SocketClosedError),
  ];
  await client.close();
  await within(Promise.all(both));
});
