/**
 * The UDP side of the relay behind `deno task dump`, over real loopback sockets: datagrams cross
 * it unchanged both ways, from one upstream socket per client address, and are reported decoded
 * (type, session, sequence, hello or frames, named after the TCP connection whose `Handshake`
 * announced the session, with the tag checked under its key); malformed ones are reported as bad
 * and relayed all the same; a `Handshake` that sends datagrams past the relay is warned about.
 * The "server" is a plain node:dgram socket; datagrams are built by hand.
 */

import assert from "node:assert/strict";
import { DatagramKey } from "../transport/datagram_key.ts";
import dgram from "node:dgram";
import {
  concatBytes,
  DATAGRAM_TAG_SIZE,
  type DatagramHeader,
  DatagramType,
  encodeFrame,
  encodeHello,
  Event,
  EventName,
  Handshake,
  PayloadType,
  Ping,
  writeDatagram,
} from "../protocol/mod.ts";
import {
  formatRelayEvent,
  PacketRelay,
  type PacketRelayOptions,
  type RelayEvent,
  relayEventToJson,
} from "../inspect/mod.ts";
import { GameSocketClient } from "../client.ts";
import { GameSocketServer } from "../server.ts";
import { EventLog } from "./fixtures/relay_event_log.ts";
import { UdpPeer } from "./udp_harness.ts";
import { within } from "./within.ts";

/** A relay between a TCP listener and a UDP "server" of the test's own. */
async function startRelay(options: Partial<PacketRelayOptions> = {}) {
  const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const udp = await UdpPeer.open();
  const log = new EventLog();
  // The relay's UDP socket takes its TCP port's number, which a UDP socket may hold already.
  for (let tries = 1;; tries++) {
    const relay = new PacketRelay({
      target: { port: tcp.addr.port, udpPort: udp.port },
      onEvent: log.push,
      ...options,
    });
    try {
      await within(relay.ready, "the relay's UDP socket");
    } catch (error) {
      await relay.close();
      if (tries < 5 && (error as { code?: string }).code === "EADDRINUSE") continue;
      tcp.close();
      await udp[Symbol.asyncDispose]();
      throw error;
    }
    return {
      tcp,
      udp,
      log,
      relay,
      async [Symbol.asyncDispose]() {
        await relay.close();
        tcp.close();
        await udp[Symbol.asyncDispose]();
      },
    };
  }
}

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i + 1);

/** A datagram sealed with `key` (or with a wrong tag when `key` is undefined). */
function datagram(header: DatagramHeader, body: Uint8Array, key?: Uint8Array): Uint8Array {
  const bytes = writeDatagram(header, body);
  const end = bytes.length - DATAGRAM_TAG_SIZE;
  if (key === undefined) bytes.fill(0xee, end);
  else new DatagramKey(key).seal(bytes);
  return bytes;
}

const jsonPayload = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

function handshake(fields: { udpPort?: number; udpSession?: number; udpKey?: Uint8Array }) {
  return encodeFrame(Handshake, {
    namespace: "/",
    channel: 0,
    socketId: "s-1",
    protocolVersion: 1,
    schemaFingerprint: "cbf29ce484222325",
    heartbeatInterval: 25000,
    heartbeatTimeout: 20000,
    maxFrameSize: 65536,
    ...fields,
  });
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
}

/** Formats without the time, which changes from run to run. */
function line(event: RelayEvent, options = {}): string | undefined {
  return formatRelayEvent(event, options)?.replace(/ \d+\.\d{3}s /g, " T ");
}

Deno.test("PacketRelay relays datagrams unchanged both ways and reports them decoded, named after the session's TCP connection", async () => {
  await using setup = await startRelay();
  const { tcp, udp, log, relay } = setup;
  // The TCP connection announces session 7 and its key, and declares event 0 "move".
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: relay.addr.port });
  using accepted = await within(tcp.accept(), "the relay's connection");
  await writeAll(accepted, handshake({ udpPort: 0, udpSession: 7, udpKey: KEY }));
  await writeAll(conn, encodeFrame(EventName, { id: 0, name: "move" }));
  await log.count("packet", 2);

  await using client = await UdpPeer.open();
  const up = [
    datagram(
      { fromServer: false, type: DatagramType.Hello, session: 7, sequence: 0 },
      encodeHello({ time: 1234, echo: 0 }),
      KEY,
    ),
    datagram(
      { fromServer: false, type: DatagramType.Sequenced, session: 7, sequence: 1 },
      encodeFrame(Event, {
        event: 0,
        payloadType: PayloadType.Json,
        payload: jsonPayload({ x: 1 }),
      }),
      KEY,
    ),
    // A name declared inside the datagram that first uses it, and a tag that does not match.
    datagram(
      { fromServer: false, type: DatagramType.Unreliable, session: 7, sequence: 2 },
      concatBytes([
        encodeFrame(EventName, { id: 1, name: "shoot" }),
        encodeFrame(Event, { event: 1, payloadType: PayloadType.None }),
      ]),
    ),
  ];
  const hello = datagram(
    { fromServer: true, type: DatagramType.Hello, session: 7, sequence: 0 },
    encodeHello({ time: 99, echo: 1234 }),
    KEY,
  );
  for (const bytes of up) {
    client.send(bytes, relay.addr.port);
    assert.deepEqual((await udp.next("the datagram at the server")).data, bytes);
  }
  const upstream = (await log.count("peer", 1))[0]!;
  udp.send(hello, Number(upstream.upstream.split(":")[1]));
  const answer = await client.next("the server's hello");
  assert.deepEqual(answer.data, hello);
  assert.equal(answer.port, relay.addr.port);

  const events = await log.count("datagram", 4);
  assert.deepEqual(events.map((event) => [event.conn, event.direction, event.tag]), [
    [1, "C>S", "ok"],
    [1, "C>S", "ok"],
    [1, "C>S", "bad"],
    [1, "S>C", "ok"],
  ]);
  assert.deepEqual(events.map((event) => event.bytes), [...up, hello]);
  assert.deepEqual(events.map((event) => line(event)), [
    "conn 1 C>S T udp hello session 7 seq 0 {time: 1234, echo: 0}",
    `conn 1 C>S T udp sequenced session 7 seq 1 Event / {event: 0 "move", payloadType: 3 (json), payload: json {"x":1}}`,
    [
      `conn 1 C>S T udp unreliable session 7 seq 2 (bad tag) [1/2] EventName / {id: 1, name: "shoot"}`,
      `conn 1 C>S T udp unreliable session 7 seq 2 (bad tag) [2/2] Event / {event: 1 "shoot", payloadType: 0 (none)}`,
    ].join("\n"),
    "conn 1 S>C T udp hello session 7 seq 0 {time: 99, echo: 1234}",
  ]);
  assert.equal(
    line(upstream),
    `peer 1     T udp open: client 127.0.0.1:${client.port}, server 127.0.0.1:${udp.port} ` +
      `(from ${upstream.upstream})`,
  );
  // "udpPort 0" means the server's TCP port number, but this UDP "server" has a port of its own.
  assert.deepEqual(log.all("warning").map((warning) => line(warning)), [
    `conn 1     T warning: the server announces UDP on its TCP port's number, ${tcp.addr.port}, ` +
    `but the relay forwards datagrams to port ${udp.port}`,
  ]);
});

Deno.test("relayEventToJson and --hex show a datagram's header, frames and bytes, and --filter picks its frames", async () => {
  await using setup = await startRelay();
  const { udp, log, relay } = setup;
  await using client = await UdpPeer.open();
  const bytes = datagram(
    { fromServer: false, type: DatagramType.Unreliable, session: 9, sequence: 3 },
    concatBytes([
      encodeFrame(EventName, { id: 4, name: "move" }),
      encodeFrame(Ping, { timestamp: 5 }, { channel: 2 }),
    ]),
  );
  client.send(bytes, relay.addr.port);
  assert.deepEqual((await udp.next()).data, bytes);
  const [event] = await log.count("datagram", 1);
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join(" ");
  // Session 9 was announced on no TCP connection: the client address names it.
  assert.equal(
    line(event!, { hex: true, filter: ["Ping"] }),
    `peer 1 C>S T udp unreliable session 9 seq 3 [2/2] Ping channel 2 {timestamp: 5}\n    ${hex}`,
  );
  assert.equal(formatRelayEvent(event!, { filter: ["shoot"] }), undefined);
  assert.equal(line(event!, { filter: ["udp"] })?.split("\n").length, 2);
  const json = relayEventToJson(event!, { hex: true, filter: ["move"] });
  assert.deepEqual({ ...json, time: 0 }, {
    type: "datagram",
    conn: null,
    peer: 1,
    direction: "C>S",
    time: 0,
    datagram: "unreliable",
    session: 9,
    sequence: 3,
    tag: null,
    size: bytes.length,
    frames: [{
      number: 1,
      offset: 9,
      size: encodeFrame(EventName, { id: 4, name: "move" }).length,
      channel: 0,
      namespace: "/",
      kind: "control",
      schema: "EventName",
      code: 6,
      version: 0,
      value: { id: 4, name: "move" },
    }],
    hex,
  });
});

Deno.test("PacketRelay gives each client address its own upstream socket and routes answers back", async () => {
  await using setup = await startRelay();
  const { udp, log, relay } = setup;
  await using first = await UdpPeer.open();
  await using second = await UdpPeer.open();
  const ping = (session: number) =>
    datagram(
      { fromServer: false, type: DatagramType.Unreliable, session, sequence: 0 },
      encodeFrame(Ping, { timestamp: session }),
    );
  first.send(ping(1), relay.addr.port);
  const fromFirst = await udp.next("the first client's datagram");
  second.send(ping(2), relay.addr.port);
  const fromSecond = await udp.next("the second client's datagram");
  first.send(ping(1), relay.addr.port);
  const againFirst = await udp.next("the first client's second datagram");
  assert.deepEqual([fromFirst.data, fromSecond.data], [ping(1), ping(2)]);
  assert.notEqual(fromFirst.port, fromSecond.port);
  assert.equal(againFirst.port, fromFirst.port);
  for (const port of [fromFirst.port, fromSecond.port]) assert.notEqual(port, relay.addr.port);

  // Each answer goes back to the client its upstream socket speaks for.
  const answer = (session: number) =>
    datagram(
      { fromServer: true, type: DatagramType.Unreliable, session, sequence: 0 },
      encodeFrame(Ping, { timestamp: session * 10 }),
    );
  udp.send(answer(2), fromSecond.port);
  udp.send(answer(1), fromFirst.port);
  assert.deepEqual((await second.next("the second client's answer")).data, answer(2));
  assert.deepEqual((await first.next("the first client's answer")).data, answer(1));

  const peers = await log.count("peer", 2);
  assert.deepEqual(peers.map((peer) => [peer.peer, peer.client, peer.upstream]), [
    [1, `127.0.0.1:${first.port}`, `127.0.0.1:${fromFirst.port}`],
    [2, `127.0.0.1:${second.port}`, `127.0.0.1:${fromSecond.port}`],
  ]);
  const datagrams = await log.count("datagram", 5);
  assert.deepEqual(datagrams.map((event) => `${event.peer} ${event.direction}`), [
    "1 C>S",
    "2 C>S",
    "1 C>S",
    "2 S>C",
    "1 S>C",
  ]);
});

Deno.test("PacketRelay reports malformed datagrams as bad, with the reason, and relays them all the same", async () => {
  await using setup = await startRelay();
  const { udp, log, relay } = setup;
  await using client = await UdpPeer.open();
  const valid = datagram(
    { fromServer: false, type: DatagramType.Unreliable, session: 3, sequence: 0 },
    encodeFrame(Ping, { timestamp: 1 }),
  );
  const truncated = Uint8Array.of(0x12, 0, 0, 0, 3);
  const otherVersion = valid.slice();
  otherVersion[0] = 0x71;
  const wrongWay = valid.slice();
  wrongWay[0]! |= 0x08;
  const brokenFrame = datagram(
    { fromServer: false, type: DatagramType.Unreliable, session: 3, sequence: 1 },
    Uint8Array.of(0x05, 0x10, 0x00),
  );
  const sent = [truncated, otherVersion, wrongWay, brokenFrame];
  for (const bytes of sent) {
    client.send(bytes, relay.addr.port);
    assert.deepEqual((await udp.next("the bad datagram at the server")).data, bytes);
  }
  const events = await log.count("datagram", sent.length);
  assert.deepEqual(events.map((event) => event.fault?.code), [
    "truncated",
    "unsupported_version",
    "protocol_violation",
    "truncated",
  ]);
  assert.deepEqual(events.map((event) => event.bytes), sent);
  assert.equal(
    line(events[0]!, { filter: ["nothing"] }),
    "peer 1 C>S T udp bad: Cannot decode datagram: 5 bytes, at least 26 needed (at byte 0) [truncated]",
  );
  assert.match(
    line(events[2]!)!,
    /^peer 1 C>S T udp unreliable session 3 seq 0 bad: .* from the server, but the client sent it .*\[protocol_violation\]$/,
  );
  assert.match(
    line(events[3]!)!,
    /^peer 1 C>S T udp unreliable session 3 seq 1 bad: .*\(at byte 10\) \[truncated\]$/,
  );
});

Deno.test("PacketRelay warns once when a Handshake announces an explicit UDP port, which clients reach past the relay", async () => {
  await using setup = await startRelay();
  const { tcp, log, relay } = setup;
  for (let round = 0; round < 2; round++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: relay.addr.port });
    const accepted = await within(tcp.accept(), "the relay's connection");
    await writeAll(accepted, handshake({ udpPort: 4001, udpSession: round, udpKey: KEY }));
    await log.count("packet", round + 1);
    conn.close();
    accepted.close();
    await log.count("close", round + 1);
  }
  const [warning] = log.all("warning");
  assert.equal(log.all("warning").length, 1);
  assert.equal(warning!.conn, 1);
  assert.equal(
    line(warning!),
    "conn 1     T warning: the server announces UDP port 4001: clients will send their " +
      "datagrams straight there, bypassing the relay; have the server announce the same-port " +
      "form (udpPort 0) to relay them",
  );
  // The warning comes right after the Handshake it is about.
  const handshakeAt = log.events.findIndex((event) => event.type === "packet");
  assert.equal(log.events[handshakeAt + 1], warning);
});

Deno.test("PacketRelay without a UDP port warns when the server announces UDP on its TCP port's number", async () => {
  using tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const log = new EventLog();
  await using relay = new PacketRelay({ target: { port: tcp.addr.port }, onEvent: log.push });
  using _conn = await Deno.connect({ hostname: "127.0.0.1", port: relay.addr.port });
  using accepted = await within(tcp.accept(), "the relay's connection");
  await writeAll(accepted, handshake({ udpPort: 0, udpSession: 1, udpKey: KEY }));
  const [warning] = await log.count("warning", 1);
  assert.match(warning!.message, new RegExp(`--udp-port ${tcp.addr.port}\\)$`));
});

Deno.test("PacketRelay.close closes every UDP socket: the port is free again", async () => {
  const setup = await startRelay();
  await using client = await UdpPeer.open();
  client.send(Uint8Array.of(1, 2, 3), setup.relay.addr.port);
  await setup.udp.next();
  await setup.log.count("peer", 1);
  const port = setup.relay.addr.port;
  await setup[Symbol.asyncDispose]();
  const again = dgram.createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    again.once("error", reject);
    again.bind(port, "127.0.0.1", () => resolve());
  });
  await new Promise<void>((resolve) => again.close(() => resolve()));
});

Deno.test("PacketRelay.ready rejects, and the relay stops, when its UDP port is taken", async () => {
  // A port number free for TCP whose UDP side a socket of the test holds.
  let taken: dgram.Socket | undefined;
  let port = 0;
  for (let tries = 0; taken === undefined && tries < 20; tries++) {
    using probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    port = probe.addr.port;
    const socket = dgram.createSocket("udp4");
    const bound = await new Promise<boolean>((resolve) => {
      socket.once("error", () => resolve(false));
      socket.bind(port, "127.0.0.1", () => resolve(true));
    });
    if (bound) taken = socket;
  }
  assert.ok(taken, "no port number free for TCP could be held for UDP");
  await using _taken = {
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => taken.close(() => resolve())),
  };
  using tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const relay = new PacketRelay({ listen: { port }, target: { port: tcp.addr.port, udpPort: 1 } });
  const inUse = (error: unknown) => (error as { code?: string }).code === "EADDRINUSE";
  await assert.rejects(within(relay.ready, "the failed bind"), inUse);
  await assert.rejects(within(relay.finished, "the relay's end"), inUse);
  await relay.close();
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: relay.addr.port }),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("PacketRelay refuses a UDP port out of range with a RangeError", () => {
  assert.throws(() => new PacketRelay({ target: { port: 1, udpPort: 0 } }), RangeError);
  assert.throws(() => new PacketRelay({ target: { port: 1, udpPort: 65536 } }), RangeError);
});

Deno.test("PacketRelay carries a real client's UDP path to a real server, and checks every tag", async () => {
  await using server = new GameSocketServer({ hostname: "127.0.0.1", port: 0, udp: true });
  const { port } = await server.listen();
  const log = new EventLog();
  let relay: PacketRelay | undefined;
  // The relay's UDP socket takes its TCP port's number, which a UDP socket may hold already.
  for (let tries = 1; relay === undefined; tries++) {
    const attempt = new PacketRelay({
      listen: { hostname: "127.0.0.1", port: 0 },
      target: { hostname: "127.0.0.1", port, udpPort: server.udpPort! },
      onEvent: log.push,
    });
    try {
      await within(attempt.ready, "the relay's UDP socket");
      relay = attempt;
    } catch (error) {
      await attempt.close();
      if (tries >= 5 || (error as { code?: string }).code !== "EADDRINUSE") throw error;
    }
  }
  await using _relay = { [Symbol.asyncDispose]: () => relay!.close() };
  const heard = Promise.withResolvers<unknown>();
  server.on("connection", (socket) => socket.on("move", (data) => heard.resolve(data)));
  const client = new GameSocketClient({ udp: { helloInterval: 10 } });
  await using _client = { [Symbol.asyncDispose]: () => client.close() };
  const open = new Promise<void>((resolve) =>
    client.on("udp_state", (state) => state === "open" && resolve())
  );
  await client.connect("127.0.0.1", relay.addr.port);
  await within(open, "the UDP path through the relay");
  assert.equal(client.root!.emit("move", { x: 1 }, { delivery: "unreliable" }), "sent_udp");
  assert.deepEqual(await within(heard.promise, "the event"), { x: 1 });
  const datagrams = await log.count("datagram", 3);
  assert.ok(datagrams.every((event) => event.tag === "ok" && event.conn === 1));
  assert.deepEqual(
    datagrams.map((event) => [event.direction, event.header?.type]),
    [["C>S", DatagramType.Hello], ["S>C", DatagramType.Hello], ["C>S", DatagramType.Unreliable]],
  );
  assert.deepEqual(log.all("warning"), []);
});
