/**
 * The UDP channel beside TCP: the handshake's announcement, delivery classes on emits, sends and
 * broadcasts, the fallback when UDP cannot carry a message, and the path's state and counters.
 */

import assert from "node:assert/strict";
import { GameSocketClient } from "../client.ts";
import { GameSocketServer, type ServerSocket } from "../server.ts";
import { DatagramTooLargeError, type EventInfo, type MessageInfo } from "../mod.ts";
import { Handshake, SchemaRegistry } from "../protocol/mod.ts";
import { connectClient, RawPeer, rootConnect, startServer } from "./harness.ts";
import { LatestPos, Pos, QUICK_UDP, rawSession, udpOpen } from "./udp_harness.ts";
import { eventOf, nextFrame, serverSide, within } from "./within.ts";

const schemas = new SchemaRegistry([Pos, LatestPos]);

Deno.test("The handshake of / announces UDP as the TCP port's number, with a session and key", async () => {
  await using server = await startServer({ udp: true, schemas });
  assert.equal(server.server.udpPort, server.port);
  const session = await rawSession(server.port, schemas);
  await using _peer = session.peer;
  assert.equal(session.udpPort, 0);
  assert.equal(session.key.length, 32);
  assert.ok(Number.isInteger(session.session));
});

Deno.test("udp.publicPort is announced instead, and a server without UDP announces nothing", async () => {
  {
    await using server = await startServer({ udp: { publicPort: 40000 } });
    const session = await rawSession(server.port);
    await using _peer = session.peer;
    assert.equal(session.udpPort, 40000);
  }
  await using plain = await startServer();
  await using peer = await RawPeer.connect(plain.port);
  await peer.write(rootConnect());
  const frame = await nextFrame(peer);
  assert.ok(frame?.type === "control" && frame.schema === Handshake);
  assert.equal((frame.value as { udpKey?: Uint8Array }).udpKey, undefined);
});

Deno.test("A taken udp.port makes listen fail and releases the TCP listener", async () => {
  await using first = await startServer({ udp: true });
  const second = new GameSocketServer({
    hostname: "127.0.0.1",
    port: 0,
    udp: { port: first.server.udpPort! },
  });
  await assert.rejects(second.listen(), Deno.errors.AddrInUse);
  assert.equal(second.address, undefined);
  await second.close();
});

Deno.test("Unreliable events and messages travel by UDP both ways, and say so", async () => {
  await using server = await startServer({ udp: true, schemas });
  const arrived = Promise.withResolvers<[unknown, EventInfo]>();
  const message = Promise.withResolvers<[unknown, MessageInfo]>();
  server.server.on("connection", (socket) => {
    socket.on("move", (data, info) => {
      arrived.resolve([data, info]);
      assert.equal(socket.emit("moved", data, { delivery: "unreliable" }), "sent_udp");
      assert.equal(socket.send(Pos, { n: 2, x: -3 }, { delivery: "unreliable" }), "sent_udp");
    });
    socket.onMessage(Pos, (value, info) => message.resolve([value, info]));
  });
  await using client = await connectClient(server.port, { schemas, udp: QUICK_UDP });
  await udpOpen(client);
  const root = client.root!;
  const moved = eventOf<[unknown, EventInfo]>(root, "moved");
  const pos = within(
    new Promise<[unknown, MessageInfo]>((resolve) =>
      root.onMessage(Pos, (value, info) => resolve([value, info]))
    ),
  );
  assert.equal(root.emit("move", { x: 1 }, { delivery: "unreliable" }), "sent_udp");
  assert.equal(root.send(Pos, { n: 1, x: 5 }, { delivery: "unreliable" }), "sent_udp");
  assert.deepEqual(await within(arrived.promise), [{ x: 1 }, {
    wantsAck: false,
    delivery: "unreliable",
  }]);
  assert.deepEqual(await within(message.promise), [{ n: 1, x: 5 }, { delivery: "unreliable" }]);
  assert.deepEqual(await moved, [{ x: 1 }, { wantsAck: false, delivery: "unreliable" }]);
  assert.deepEqual(await pos, [{ n: 2, x: -3 }, { delivery: "unreliable" }]);
  const stats = client.udp!;
  assert.equal(stats.state, "open");
  // A hello, then the event and the message packed in one datagram (queued in one tick).
  assert.equal(stats.sent, 2, JSON.stringify(stats));
  assert.ok(stats.received >= 2, JSON.stringify(stats));
  assert.ok(stats.rtt.last !== undefined && stats.rtt.last >= 0);
  const serverStats = [...server.server.root.sockets.values()][0]!.udp!;
  assert.equal(serverStats.bound, true);
  assert.ok(serverStats.received >= 2);
  assert.deepEqual(Object.values(serverStats.dropped), [0, 0, 0, 0, 0, 0, 0]);
});

Deno.test("Reliable emits stay on TCP, and a schema's declared delivery applies to send", async () => {
  await using server = await startServer({ udp: true, schemas });
  const got: [string, unknown][] = [];
  const done = Promise.withResolvers<void>();
  server.server.on("connection", (socket) => {
    // The two transports do not keep order between them: wait for both.
    socket.on("chat", (_data, info) => {
      if (got.push(["chat", info.delivery]) === 2) done.resolve();
    });
    socket.onMessage(LatestPos, (_value, info) => {
      if (got.push(["latest", info.delivery]) === 2) done.resolve();
    });
  });
  await using client = await connectClient(server.port, { schemas, udp: QUICK_UDP });
  await udpOpen(client);
  assert.equal(client.root!.emit("chat", "hi"), "sent");
  assert.equal(client.root!.send(LatestPos, { n: 1 }), "sent_udp");
  await within(done.promise);
  assert.deepEqual(got.sort(), [["chat", undefined], ["latest", "sequenced"]]);
});

Deno.test("Without a UDP path, unreliable emits fall back to TCP, or are unavailable with fallback none", async () => {
  await using server = await startServer({ udp: true, schemas });
  const heard: [string, unknown][] = [];
  const last = Promise.withResolvers<void>();
  server.server.on("connection", (socket) => {
    socket.onAny((event, _data, info) => {
      heard.push([event, info.delivery]);
      if (event === "last") last.resolve();
    });
    socket.on("ping?", () => {
      assert.equal(socket.udp?.bound, false);
      assert.equal(socket.emit("a", 1, { delivery: "unreliable" }), "sent");
      assert.equal(socket.emit("b", 2, { delivery: "sequenced", fallback: "none" }), "unavailable");
      return "ok";
    });
  });
  // A client that keeps UDP off: the server offers it, the client never binds.
  await using client = await connectClient(server.port, { schemas, udp: false });
  assert.equal(client.udp, undefined);
  const root = client.root!;
  const events: string[] = [];
  root.onAny((event) => events.push(event));
  assert.equal(root.emit("x", 1, { delivery: "unreliable" }), "sent");
  assert.equal(root.emit("y", 1, { delivery: "unreliable", fallback: "none" }), "unavailable");
  assert.equal(root.emit("last", 1), "sent");
  await within(last.promise);
  assert.deepEqual(heard, [["x", undefined], ["last", undefined]]);
  assert.equal(await within(root.emitWithAck("ping?")), "ok");
  assert.deepEqual(events, ["a"]);
});

Deno.test("A server option fallback none leaves unreliable emits to a client without UDP unsent", async () => {
  await using server = await startServer({ udp: { fallback: "none" } });
  const connected = eventOf<[ServerSocket]>(server.server, "connection");
  await using _client = await connectClient(server.port, { udp: false });
  const [socket] = await connected;
  assert.equal(socket.emit("e", 1, { delivery: "unreliable" }), "unavailable");
  assert.equal(socket.emit("e", 1, { delivery: "unreliable", fallback: "tcp" }), "sent");
});

Deno.test("An unreliable message too large for a datagram falls back to TCP, or throws with fallback none", async () => {
  await using server = await startServer({ udp: true, schemas });
  const got = Promise.withResolvers<[string, EventInfo]>();
  server.server.on("connection", (socket) => {
    socket.on("big", (data, info) => got.resolve([data as string, info]));
  });
  await using client = await connectClient(server.port, { schemas, udp: QUICK_UDP });
  await udpOpen(client);
  const root = client.root!;
  const big = "x".repeat(1200);
  assert.throws(
    () => root.emit("big", big, { delivery: "unreliable", fallback: "none" }),
    (e: unknown) => e instanceof DatagramTooLargeError && e.limit === 1175 && e.size > 1175,
  );
  assert.equal(root.emit("big", big, { delivery: "unreliable" }), "sent");
  const [data, info] = await within(got.promise);
  assert.equal(data.length, 1200);
  assert.equal(info.delivery, undefined);
  // The largest message that fits still goes by UDP.
  assert.equal(root.send(Pos, { n: 1, x: 1 }, { delivery: "unreliable" }), "sent_udp");
});

Deno.test("A room broadcast marked unreliable goes by UDP to bound members, by TCP or not at all to the others", async () => {
  await using server = await startServer({ udp: true, schemas });
  const nsp = server.server.root;
  nsp.on("connection", (socket) => socket.join("arena"));
  const bound = [
    await connectClient(server.port, { schemas, udp: QUICK_UDP }),
    await connectClient(server.port, { schemas, udp: QUICK_UDP }),
  ];
  await using a = bound[0]!;
  await using b = bound[1]!;
  await using plain = await connectClient(server.port, { schemas, udp: false });
  await udpOpen(a);
  await udpOpen(b);
  const heard = (client: GameSocketClient) =>
    within(
      new Promise<MessageInfo["delivery"]>((resolve) =>
        client.root!.onMessage(Pos, (_value, info) => resolve(info.delivery))
      ),
    );
  let arrivals = [heard(a), heard(b), heard(plain)];
  assert.deepEqual(nsp.to("arena").send(Pos, { n: 1, x: 0 }, { delivery: "unreliable" }), {
    sent: 1,
    sentUdp: 2,
    dropped: 0,
    overflowed: 0,
    unavailable: 0,
  });
  assert.deepEqual(await Promise.all(arrivals), ["unreliable", "unreliable", "reliable"]);
  for (const client of [a, b, plain]) client.root!.offMessage(Pos);
  arrivals = [heard(a), heard(b)];
  const skipped = heard(plain);
  assert.deepEqual(
    nsp.to("arena").send(Pos, { n: 2, x: 0 }, { delivery: "sequenced", fallback: "none" }),
    { sent: 0, sentUdp: 2, dropped: 0, overflowed: 0, unavailable: 1 },
  );
  assert.deepEqual(await Promise.all(arrivals), ["sequenced", "sequenced"]);
  // The skipped member hears the next reliable message, and nothing before it.
  assert.equal(nsp.to("arena").send(Pos, { n: 3, x: 0 }).sent, 3);
  assert.equal(await skipped, "reliable");
  // An event broadcast to the room travels the same way, as a room event.
  const roomEvents = [a, b].map((client) => eventOf<[unknown, EventInfo]>(client.root!, "tick"));
  assert.equal(nsp.to("arena").emit("tick", 7, { delivery: "unreliable" }).sentUdp, 2);
  for (const [data, info] of await Promise.all(roomEvents)) {
    assert.equal(data, 7);
    assert.deepEqual(info, { wantsAck: false, room: "arena", delivery: "unreliable" });
  }
});

Deno.test("Namespaces work over UDP as over TCP, with their own schema sets", async () => {
  const homeSchemas = new SchemaRegistry([Pos]);
  await using server = await startServer({ udp: true });
  const homeNsp = server.server.of("/home", { schemas: homeSchemas });
  const got = Promise.withResolvers<[unknown, MessageInfo]>();
  homeNsp.on("connection", (socket) => {
    socket.onMessage(Pos, (value, info) => {
      got.resolve([value, info]);
      socket.to(socket.id).emit("never", 1);
      homeNsp.emit("echo", (value as { n: number }).n, { delivery: "unreliable" });
    });
  });
  await using client = await connectClient(server.port, { udp: QUICK_UDP });
  await udpOpen(client);
  const socket = await within(client.of("/home", { schemas: homeSchemas }).ready);
  const echoed = eventOf<[unknown, EventInfo]>(socket, "echo");
  assert.equal(socket.send(Pos, { n: 9, x: 1 }, { delivery: "unreliable" }), "sent_udp");
  assert.deepEqual(await within(got.promise), [{ n: 9, x: 1 }, { delivery: "unreliable" }]);
  assert.deepEqual(await echoed, [9, { wantsAck: false, delivery: "unreliable" }]);
  const serverSocket = serverSide(homeNsp, socket);
  assert.equal(serverSocket.udp?.bound, true);
});

Deno.test("A client whose hellos are never answered gives up (failed) and its unreliable emits go by TCP", async () => {
  // The server announces a port nobody listens on, so no hello is ever answered.
  await using server = await startServer({ udp: { publicPort: 9 } });
  const client = new GameSocketClient({ udp: { helloInterval: 5, helloAttempts: 3 } });
  const failed = eventOf<[string]>(client, "udp_state");
  await client.connect("127.0.0.1", server.port);
  await using _client = Object.assign(client, { [Symbol.asyncDispose]: () => client.close() });
  assert.deepEqual(await failed, ["failed"]);
  assert.equal(client.udp?.state, "failed");
  assert.equal(client.udp?.sent, 3);
  assert.equal(client.root!.emit("e", 1, { delivery: "unreliable" }), "sent");
});
