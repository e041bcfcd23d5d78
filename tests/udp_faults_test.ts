/**
 * Hostile datagrams over real loopback UDP: forged, replayed, truncated, oversized, reflected,
 * from unknown sessions and from addresses not bound to their session, and floods of hellos.
 * Each is dropped and counted, never delivered; nothing is answered before an address proves
 * itself, and no answer is larger than what it answers; a well-behaved client keeps receiving.
 */

import assert from "node:assert/strict";
import {
  DATAGRAM_OVERHEAD,
  DatagramType,
  encodeFrame,
  encodeHello,
  Event,
  EventName,
  HELLO_SIZE,
  PayloadType,
  readDatagramHeader,
  SchemaRegistry,
} from "../protocol/mod.ts";
import type { GameSocketServer, ServerSocket } from "../server.ts";
import { helloClock } from "../session/heartbeat.ts";
import { connectClient, startServer } from "./harness.ts";
import {
  clientDatagram,
  clientHello,
  Pos,
  posDatagram,
  QUICK_UDP,
  rawSession,
  RawUdp,
  udpOpen,
  type UdpSession,
} from "./udp_harness.ts";
import { eventOf, within } from "./within.ts";

const schemas = new SchemaRegistry([Pos]);

/** A server with UDP, a raw session on it, and the server's socket of that session. */
async function hostileSetup(server: GameSocketServer, port: number) {
  const connected = eventOf<[ServerSocket]>(server, "connection");
  const session = await rawSession(port, schemas);
  const [socket] = await connected;
  const delivered: number[] = [];
  socket.onMessage(Pos, (value) => delivered.push(value.n));
  return { session, socket, delivered };
}

/**
 * Proves a raw socket's address with a hello and awaits the answer. The server handles
 * datagrams in order, so once the answer is in, everything sent before the hello was handled.
 */
async function prove(udp: RawUdp, session: UdpSession, sequence: number): Promise<Uint8Array> {
  await udp.sent();
  const before = udp.received.length;
  udp.send(clientHello(session.key, session.session, sequence));
  await udp.receivedCount(before + 1);
  return udp.received[before]!;
}

Deno.test("Forged, truncated, oversized, unknown and malformed datagrams are dropped and counted, and get no answer", async () => {
  await using server = await startServer({ udp: true, schemas });
  const { session, socket, delivered } = await hostileSetup(server.server, server.port);
  await using _peer = session.peer;
  await using udp = await RawUdp.open(server.server.udpPort!);
  const wrongKey = crypto.getRandomValues(new Uint8Array(32));
  udp.send(posDatagram(wrongKey, session.session, 0, 1)); // forged
  udp.send(posDatagram(session.key, session.session, 1, 2).subarray(0, 20)); // truncated
  udp.send(new Uint8Array(1300)); // oversized
  udp.send(posDatagram(session.key, session.session ^ 1, 2, 3)); // unknown session
  const badVersion = posDatagram(session.key, session.session, 3, 4);
  badVersion[0] = 0x21;
  udp.send(badVersion); // another protocol version
  const badHello = clientHello(session.key, session.session, 4);
  badHello[HELLO_SIZE - 1]! ^= 0xff;
  udp.send(badHello); // a hello with a bad tag
  // A good hello last: its answer is the first and only datagram to come back.
  const welcome = await prove(udp, session, 5);
  assert.equal(udp.received.length, 1);
  assert.equal(welcome.length, HELLO_SIZE);
  assert.equal(readDatagramHeader(welcome).fromServer, true);
  assert.deepEqual(delivered, []);
  const dropped = server.server.stats.udp!.dropped;
  assert.deepEqual({ ...dropped }, {
    late: 0,
    replayed: 0,
    forged: 2,
    oversized: 1,
    truncated: 1,
    unbound: 0,
    invalid: 1,
    unknown: 1,
  });
  // The session's own counters hold what named it (the oversized datagram named no session).
  assert.deepEqual(socket.udp!.dropped, {
    late: 0,
    replayed: 0,
    forged: 2,
    oversized: 0,
    truncated: 1,
    unbound: 0,
    invalid: 1,
  });
  // The session works: a good datagram is delivered.
  udp.send(posDatagram(session.key, session.session, 6, 7));
  await within(waitFor(() => delivered.length === 1, socket), "the good datagram");
  assert.deepEqual(delivered, [7]);
});

Deno.test("A replayed datagram is delivered once; a late one beyond the window is dropped", async () => {
  await using server = await startServer({ udp: { replayWindow: 64 }, schemas });
  const { session, socket, delivered } = await hostileSetup(server.server, server.port);
  await using _peer = session.peer;
  await using udp = await RawUdp.open(server.server.udpPort!);
  await prove(udp, session, 0);
  // Each send waits for the one before, so they arrive in this order.
  const inOrder = async (...datagrams: Uint8Array[]) => {
    for (const datagram of datagrams) {
      udp.send(datagram);
      await udp.sent();
    }
  };
  const first = posDatagram(session.key, session.session, 10, 1);
  await inOrder(
    first,
    first,
    first,
    posDatagram(session.key, session.session, 200, 2),
    posDatagram(session.key, session.session, 100, 3), // 100 behind 200, the window 64: late
    posDatagram(session.key, session.session, 150, 4), // within the window: delivered
  );
  await within(waitFor(() => delivered.length === 3, socket), "three deliveries");
  await prove(udp, session, 201);
  assert.deepEqual(delivered, [1, 2, 4]);
  assert.equal(socket.udp!.dropped.replayed, 2);
  assert.equal(socket.udp!.dropped.late, 1);
});

Deno.test("An authentic datagram from an address not bound to its session is dropped, until that address proves itself", async () => {
  await using server = await startServer({ udp: true, schemas });
  const { session, socket, delivered } = await hostileSetup(server.server, server.port);
  await using _peer = session.peer;
  await using first = await RawUdp.open(server.server.udpPort!);
  await using second = await RawUdp.open(server.server.udpPort!);
  // Before any hello, nothing is bound.
  first.send(posDatagram(session.key, session.session, 0, 1));
  await prove(first, session, 1);
  second.send(posDatagram(session.key, session.session, 2, 2)); // another address
  await second.sent();
  first.send(posDatagram(session.key, session.session, 3, 3));
  await within(waitFor(() => delivered.length === 1, socket), "the bound address's datagram");
  assert.deepEqual(delivered, [3]);
  assert.equal(socket.udp!.dropped.unbound, 2);
  assert.equal(second.received.length, 0);
  // The second address proves itself (a NAT rebinding): it is bound from now on.
  const rebound = eventOf<[ServerSocket, { address: { port: number }; rebound: boolean }]>(
    server.server,
    "udp_bound",
  );
  await prove(second, session, 4);
  const [boundSocket, info] = await rebound;
  assert.equal(boundSocket, socket);
  assert.deepEqual(info, { address: { hostname: "127.0.0.1", port: second.port }, rebound: true });
  first.send(posDatagram(session.key, session.session, 5, 6)); // the old address
  await first.sent();
  second.send(posDatagram(session.key, session.session, 6, 5));
  await within(waitFor(() => delivered.length === 2, socket), "the rebound address's datagram");
  await prove(second, session, 7);
  assert.deepEqual(delivered, [3, 5]);
  assert.equal(socket.udp!.dropped.unbound, 3);
});

Deno.test("A flood of hellos gets no answer unless proven, and answers are never larger than the hellos", async () => {
  await using server = await startServer({ udp: true, schemas });
  const { session } = await hostileSetup(server.server, server.port);
  await using _peer = session.peer;
  await using udp = await RawUdp.open(server.server.udpPort!);
  const out = server.server.stats.udp!;
  const sentBefore = out.bytesOut;
  const receivedBefore = out.received;
  for (let i = 0; i < 150; i++) {
    const forged = clientHello(session.key, session.session, i);
    forged[HELLO_SIZE - 1 - (i % 16)]! ^= 1 + (i % 255);
    udp.send(forged);
  }
  const valid = clientHello(session.key, session.session, 1000);
  await prove(udp, session, 999); // the socket's buffer holds about 170 small datagrams
  for (let i = 0; i < 100; i++) udp.send(valid); // one fresh hello, replayed 99 times
  // A last fresh hello: its answer comes after any answer to the flood would have.
  await prove(udp, session, 1001);
  assert.equal(udp.received.length, 3);
  assert.ok(udp.received.every((d) => d.length === HELLO_SIZE));
  assert.equal(out.bytesOut - sentBefore, 3 * HELLO_SIZE);
  assert.ok(out.bytesOut - sentBefore <= udp.bytesSent);
  // Each datagram that reached the server was dropped and counted, or accepted: the three
  // hellos. (UDP may lose a few of a burst in the kernel; the counts then fall short alike.)
  const dropped = Object.values(out.dropped).reduce((a, b) => a + b, 0);
  assert.equal(out.received - receivedBefore, dropped + 3);
  assert.ok(out.dropped.forged > 100 && out.dropped.replayed > 50, JSON.stringify(out));
});

Deno.test("A datagram the server sent, reflected back at it, is refused", async () => {
  await using server = await startServer({ udp: true, schemas });
  const { session, socket } = await hostileSetup(server.server, server.port);
  await using _peer = session.peer;
  await using udp = await RawUdp.open(server.server.udpPort!);
  const welcome = await prove(udp, session, 0);
  udp.send(welcome);
  await prove(udp, session, 1);
  assert.equal(udp.received.length, 2);
  assert.equal(socket.udp!.dropped.invalid, 1);
});

Deno.test("Sequenced: a datagram older than the last one delivered for the same message is dropped", async () => {
  await using server = await startServer({ udp: true, schemas });
  const { session, socket, delivered } = await hostileSetup(server.server, server.port);
  await using _peer = session.peer;
  await using udp = await RawUdp.open(server.server.udpPort!);
  await prove(udp, session, 0);
  const { key, session: id } = session;
  for (
    const datagram of [
      posDatagram(key, id, 10, 10, DatagramType.Sequenced),
      posDatagram(key, id, 7, 7, DatagramType.Sequenced), // older: dropped
      posDatagram(key, id, 8, 8, DatagramType.Unreliable), // unreliable: delivered
      posDatagram(key, id, 12, 12, DatagramType.Sequenced),
    ]
  ) {
    udp.send(datagram);
    await udp.sent();
  }
  await within(waitFor(() => delivered.length === 3, socket), "three deliveries");
  await prove(udp, session, 13);
  assert.deepEqual(delivered, [10, 8, 12]);
  assert.equal(socket.udp!.dropped.late, 1);
});

Deno.test("A datagram asking for an ack, or holding what datagrams may not carry, is dropped and the connection stays", async () => {
  await using server = await startServer({ udp: true, schemas });
  const { session, socket, delivered } = await hostileSetup(server.server, server.port);
  await using peer = session.peer;
  await using udp = await RawUdp.open(server.server.udpPort!);
  await prove(udp, session, 0);
  const { key, session: id } = session;
  const events: string[] = [];
  socket.onAny((event) => events.push(event));
  const declare = encodeFrame(EventName, { id: 0, name: "e" }).slice();
  const withAck = encodeFrame(Event, { event: 0, payloadType: PayloadType.None, ackId: 1 });
  const body = new Uint8Array([...declare, ...withAck]);
  // An EventName off channel 0; a frame cut short; then an event without an ack request.
  const offRoot = encodeFrame(EventName, { id: 1, name: "f" }, { channel: 3 }).slice();
  const cut = encodeFrame(Pos, { n: 1, x: 0 }).slice(0, 4);
  const plain = encodeFrame(Event, { event: 0, payloadType: PayloadType.None }).slice();
  const bodies = [body, offRoot, cut, plain];
  for (const [i, frames] of bodies.entries()) {
    const header = { type: DatagramType.Unreliable, session: id, sequence: i + 1 };
    udp.send(clientDatagram(key, header, frames));
    await udp.sent();
  }
  udp.send(posDatagram(key, id, 5, 5));
  await within(waitFor(() => delivered.length === 1, socket), "the last datagram");
  assert.deepEqual(events, ["e"]);
  assert.deepEqual(socket.udp!.dropped, {
    late: 0,
    replayed: 0,
    forged: 0,
    oversized: 0,
    truncated: 1,
    unbound: 0,
    invalid: 2,
  });
  assert.equal(socket.connected, true);
  assert.equal(peer.conn.remoteAddr.transport, "tcp");
  assert.ok(DATAGRAM_OVERHEAD === 25);
});

Deno.test("The server measures the round trip over UDP from a hello's echo", async () => {
  await using server = await startServer({ udp: true, schemas });
  const { session, socket } = await hostileSetup(server.server, server.port);
  await using _peer = session.peer;
  await using udp = await RawUdp.open(server.server.udpPort!);
  const welcome = await prove(udp, session, 0);
  const echo = (helloClock() - 5000) >>> 0; // a clock value from 5 ms ago
  const body = encodeHello({ time: 1, echo });
  udp.send(
    clientDatagram(session.key, {
      type: DatagramType.Hello,
      session: session.session,
      sequence: 1,
    }, body),
  );
  await udp.receivedCount(2);
  assert.ok(welcome.length === HELLO_SIZE);
  const rtt = socket.udp!.rtt.last!;
  assert.ok(rtt >= 5 && rtt < 1000, `rtt ${rtt}`);
});

Deno.test("A well-behaved client keeps receiving while another session is flooded with bad datagrams", async () => {
  await using server = await startServer({ udp: true, schemas });
  const nsp = server.server.root;
  nsp.on("connection", (socket) => socket.join("arena"));
  await using good = await connectClient(server.port, { schemas, udp: QUICK_UDP });
  await udpOpen(good);
  const { session } = await hostileSetup(server.server, server.port);
  await using _peer = session.peer;
  await using udp = await RawUdp.open(server.server.udpPort!);
  const received: number[] = [];
  good.root!.onMessage(Pos, (value) => received.push(value.n));
  // Rounds of 50 bad datagrams, each round awaited with a hello: the socket's receive buffer
  // (the system's default) holds about 170 small datagrams, and a burst beyond it is lost.
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 25; i++) {
      udp.send(crypto.getRandomValues(new Uint8Array(40 + i)));
      udp.send(posDatagram(new Uint8Array(32), session.session, round * 25 + i, 0));
    }
    nsp.to("arena").send(Pos, { n: round, x: 0 }, { delivery: "unreliable" });
    await prove(udp, session, 1000 + round);
  }
  await within(waitFor(() => received.length === 20, good.root!), "20 broadcasts");
  assert.deepEqual(received, [...Array(20).keys()]);
  assert.equal(good.udp!.dropped.forged, 0);
  // Every datagram that reached the server was accepted by a session or dropped and counted
  // (a few of the flood may be lost in the kernel before that: UDP).
  const stats = server.server.stats.udp!;
  const dropped = Object.values(stats.dropped).reduce((a, b) => a + b, 0);
  const accepted = [...nsp.sockets.values()].reduce((sum, s) => sum + s.udp!.received, 0);
  assert.equal(stats.received, dropped + accepted);
  assert.ok(stats.dropped.forged > 400, `${stats.dropped.forged} forged`);
});

Deno.test("The client drops datagrams that do not come from the server's UDP address", async () => {
  await using server = await startServer({ udp: true, schemas });
  await using client = await connectClient(server.port, { schemas, udp: QUICK_UDP });
  await udpOpen(client);
  const serverSocket = [...server.server.root.sockets.values()][0]!;
  const clientPort = serverSocket.udp!.address!.port;
  await using stranger = await RawUdp.open(clientPort);
  const received: number[] = [];
  client.root!.onMessage(Pos, (value) => received.push(value.n));
  stranger.send(crypto.getRandomValues(new Uint8Array(60)));
  serverSocket.send(Pos, { n: 1, x: 0 }, { delivery: "unreliable" });
  await within(waitFor(() => received.length === 1, client.root!), "the server's datagram");
  assert.deepEqual(received, [1]);
  assert.equal(client.udp!.dropped.unbound, 1);
});

/**
 * Resolves once `ready()` holds, checking after every message the socket hears: no timers.
 *
 * @param ready The condition.
 * @param socket A socket whose incoming messages can change it.
 */
function waitFor(
  ready: () => boolean,
  socket: { onMessage(schema: typeof Pos, listener: () => void): unknown },
): Promise<void> {
  if (ready()) return Promise.resolve();
  return new Promise((resolve) => {
    socket.onMessage(Pos, () => queueMicrotask(() => ready() && resolve()));
  });
}
