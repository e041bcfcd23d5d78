/**
 * The UDP channel through a lossy network: a seeded relay that drops 20% of datagrams and
 * duplicates, reorders and delays others, between a real client and a real server over
 * loopback. `unreliable` delivers exactly what the relay forwarded, each once; `sequenced` never
 * delivers an older update after a newer one; `reliable` emits sent meanwhile over TCP arrive
 * complete and in order. And a client whose address changes (NAT rebinding) proves it again.
 */

import assert from "node:assert/strict";
import {
  datagramBody,
  DatagramType,
  decodeDatagramFrames,
  readDatagramHeader,
  SchemaRegistry,
} from "../protocol/mod.ts";
import type { ServerSocket } from "../server.ts";
import { LossyUdpRelay } from "./fixtures/lossy_udp_relay.ts";
import { connectClient, startServer } from "./harness.ts";
import { LatestPos, Pos, udpOpen } from "./udp_harness.ts";
import { eventOf, within } from "./within.ts";

const schemas = new SchemaRegistry([Pos, LatestPos]);
const MESSAGES = 300;
/** A lossy path needs patient hellos: a lost hello or answer is simply sent again. */
const LOSSY_UDP = {
  helloInterval: 10,
  helloAttempts: 500,
  keepaliveInterval: 60_000,
  timeout: 120_000,
};

/** The `n` of every Pos and LatestPos frame in the data datagrams of a relay's log. */
function forwardedIds(sent: readonly Uint8Array[]): number[][] {
  const ids: number[][] = [];
  for (const datagram of sent) {
    if (readDatagramHeader(datagram).type === DatagramType.Hello) continue;
    const frames = decodeDatagramFrames(datagramBody(datagram), { schemas });
    ids.push(frames.map((frame) => (frame as unknown as { value: { n: number } }).value.n));
  }
  return ids;
}

/** A server whose UDP is reached through a lossy relay, and a client whose path is open. */
async function lossySetup(seed: number) {
  const relay = await LossyUdpRelay.start({
    seed,
    loss: 0.2,
    duplicate: 0.1,
    reorder: 0.1,
    maxDelay: 2,
  });
  const server = await startServer({ udp: { publicPort: relay.port }, schemas });
  relay.setTarget(server.server.udpPort!);
  const connected = eventOf<[ServerSocket]>(server.server, "connection");
  const client = await connectClient(server.port, { schemas, udp: LOSSY_UDP });
  const [socket] = await connected;
  await within(udpOpen(client), "the UDP path through the relay");
  return { relay, server, client, socket };
}

/** Waits until everything the relay took in has been sent on and has left its sockets. */
async function drain(relay: LossyUdpRelay): Promise<void> {
  relay.flush();
  await within(relay.idle(), "the relay's delayed datagrams");
  await within(relay.settled(), "the relay's sends");
}

Deno.test("At 20% loss, unreliable delivers exactly the datagrams the relay forwarded, each once, and reliable emits arrive complete and in order", async () => {
  const { relay, server, client, socket } = await lossySetup(20261126);
  await using _relay = relay;
  await using _server = server;
  await using _client = client;
  const delivered: number[] = [];
  const chats: number[] = [];
  const waiting = new Map<number, () => void>();
  socket.onMessage(Pos, (value, info) => {
    assert.equal(info.delivery, "unreliable");
    delivered.push(value.n);
    waiting.get(value.n)?.();
  });
  socket.on("chat", (n) => void chats.push(n as number));
  const root = client.root!;
  const base = relay.log.toTarget.received;
  for (let n = 0; n < MESSAGES; n++) {
    assert.equal(root.send(Pos, { n, x: 0 }, { delivery: "unreliable" }), "sent_udp");
    if (n % 3 === 0) assert.equal(root.emit("chat", n), "sent");
    // One datagram per message: the next one waits until the relay has this one.
    await within(relay.received("toTarget", base + n + 1), `datagram ${n} at the relay`);
  }
  // Markers until one gets through: once it is delivered, so is everything forwarded before it.
  await drain(relay);
  for (let marker = MESSAGES; marker < MESSAGES + 50; marker++) {
    const arrived = new Promise<void>((resolve) => waiting.set(marker, resolve));
    root.send(Pos, { n: marker, x: 0 }, { delivery: "unreliable" });
    await within(relay.received("toTarget", base + marker + 1), "a marker at the relay");
    await drain(relay);
    const forwarded = forwardedIds(relay.log.toTarget.sent).flat().includes(marker);
    if (forwarded) {
      await within(arrived, "the marker");
      break;
    }
  }
  const forwarded = forwardedIds(relay.log.toTarget.sent).flat();
  const distinct = [...new Set(forwarded)];
  const log = relay.log.toTarget;
  assert.ok(log.dropped > MESSAGES * 0.1, `the relay dropped ${log.dropped}`);
  assert.ok(log.duplicated > 0 && log.reordered > 0, JSON.stringify({ ...log, sent: undefined }));
  // Exactly the forwarded datagrams, each once: duplicates were dropped as replays.
  assert.deepEqual([...delivered].sort((a, b) => a - b), distinct.sort((a, b) => a - b));
  assert.equal(new Set(delivered).size, delivered.length);
  assert.equal(socket.udp!.dropped.replayed, forwarded.length - distinct.length);
  // Reordered datagrams within the window were delivered too, out of order.
  assert.ok(delivered.some((n, i) => i > 0 && n < delivered[i - 1]!), "some arrived reordered");
  // The reliable emits, sent meanwhile over TCP, all arrived, in order.
  await within(root.emitWithAck("chat", -1).catch(() => {}), "a round trip");
  assert.deepEqual(chats.filter((n) => n >= 0), [...Array(MESSAGES / 3).keys()].map((i) => i * 3));
});

Deno.test("At 20% loss, sequenced never delivers an older update after a newer one", async () => {
  const { relay, server, client, socket } = await lossySetup(7);
  await using _relay = relay;
  await using _server = server;
  await using _client = client;
  const root = client.root!;
  const delivered: number[] = [];
  const chats: number[] = [];
  const waiting = new Map<number, () => void>();
  root.onMessage(LatestPos, (value, info) => {
    assert.equal(info.delivery, "sequenced");
    delivered.push(value.n);
    waiting.get(value.n)?.();
  });
  root.on("chat", (n) => void chats.push(n as number));
  const base = relay.log.toClient.received;
  for (let n = 0; n < MESSAGES; n++) {
    assert.equal(socket.send(LatestPos, { n }), "sent_udp");
    if (n % 3 === 0) assert.equal(socket.emit("chat", n), "sent");
    await within(relay.received("toClient", base + n + 1), `datagram ${n} at the relay`);
  }
  await drain(relay);
  for (let marker = MESSAGES; marker < MESSAGES + 50; marker++) {
    const arrived = new Promise<void>((resolve) => waiting.set(marker, resolve));
    socket.send(LatestPos, { n: marker });
    await within(relay.received("toClient", base + marker + 1), "a marker at the relay");
    await drain(relay);
    if (forwardedIds(relay.log.toClient.sent).flat().includes(marker)) {
      await within(arrived, "the marker");
      break;
    }
  }
  for (let i = 1; i < delivered.length; i++) {
    assert.ok(delivered[i]! > delivered[i - 1]!, `${delivered[i]} after ${delivered[i - 1]}`);
  }
  const forwarded = forwardedIds(relay.log.toClient.sent).flat();
  const distinct = new Set(forwarded);
  const dropped = client.udp!.dropped;
  assert.ok(dropped.late > 0, "older updates arrived after newer ones and were dropped");
  // Every forwarded update was delivered, or dropped as older than one delivered, or replayed.
  assert.equal(delivered.length + dropped.late, distinct.size);
  assert.equal(dropped.replayed, forwarded.length - distinct.size);
  await within(root.emitWithAck("chat", -1).catch(() => {}), "a round trip");
  assert.deepEqual(chats, [...Array(MESSAGES / 3).keys()].map((i) => i * 3));
});

Deno.test("A client whose address changes (NAT rebinding) proves itself again with its next hello", async () => {
  const relay = await LossyUdpRelay.start({ seed: 1 });
  await using _relay = relay;
  await using server = await startServer({ udp: { publicPort: relay.port }, schemas });
  relay.setTarget(server.server.udpPort!);
  const connected = eventOf<[ServerSocket]>(server.server, "connection");
  await using client = await connectClient(server.port, {
    schemas,
    udp: { helloInterval: 10, keepaliveInterval: 100, timeout: 120_000 },
  });
  const [socket] = await connected;
  await udpOpen(client);
  const delivered: number[] = [];
  const next = () => new Promise<void>((resolve) => socket.onMessage(Pos, () => resolve()));
  socket.onMessage(Pos, (value) => delivered.push(value.n));
  // Right after a keepalive hello has passed, the next one is 100 ms away.
  const hellos = relay.log.toTarget.received;
  await within(relay.received("toTarget", hellos + 1), "a keepalive hello");
  await drain(relay);
  await relay.rebind();
  const rebound = eventOf<[ServerSocket, { rebound: boolean; address: { port: number } }]>(
    server.server,
    "udp_bound",
  );
  client.root!.send(Pos, { n: 1, x: 0 }, { delivery: "unreliable" });
  await within(relay.received("toTarget", hellos + 2), "the datagram at the relay");
  await drain(relay);
  const [boundSocket, info] = await rebound;
  assert.equal(boundSocket, socket);
  assert.equal(info.rebound, true);
  assert.equal(info.address.port, relay.sourcePort);
  assert.deepEqual(delivered, []);
  assert.equal(socket.udp!.dropped.unbound, 1);
  const arrived = next();
  assert.equal(client.root!.send(Pos, { n: 2, x: 0 }, { delivery: "unreliable" }), "sent_udp");
  await within(arrived, "a datagram from the new address");
  assert.deepEqual(delivered, [2]);
  assert.equal(client.udp!.state, "open");
});
