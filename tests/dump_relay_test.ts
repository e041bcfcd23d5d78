/**
 * The relay behind `deno task dump`, over real loopback sockets: bytes cross it unchanged and
 * at once, both directions are decoded, bad bytes are reported and relayed, a half-close or a
 * reset on one side reaches the other, and close() ends everything. Also the relay capture
 * format and the output formatting.
 */

import assert from "node:assert/strict";
import { createDemoServer } from "../cli/demo_server.ts";
import { SEED_FLOW, toHex } from "../examples/seed_flow/transcript.ts";
import { GameSocketClient } from "../client.ts";
import { concatBytes, encodeFrame, Ping, Pong } from "../protocol/mod.ts";
import {
  decodeCapture,
  formatEntry,
  formatRelayCaptureChunk,
  formatRelayEvent,
  HexInputError,
  isRelayCapture,
  packetMatches,
  PacketRelay,
  parseRelayCapture,
  RELAY_CAPTURE_HEADER,
  relayEventToJson,
} from "../inspect/mod.ts";
import { EventLog } from "./fixtures/relay_event_log.ts";
import { RawPeer } from "./harness.ts";
import { eventOf, within } from "./within.ts";

async function startDemo() {
  const server = createDemoServer({ hostname: "127.0.0.1", port: 0, log: () => {} });
  const { port } = await server.listen();
  return { port, [Symbol.asyncDispose]: () => server.close() };
}

async function readExactly(conn: Deno.Conn, count: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(count);
  for (let got = 0; got < count;) {
    const n = await conn.read(bytes.subarray(got));
    if (n === null) throw new Error(`The stream ended after ${got} of ${count} bytes`);
    got += n;
  }
  return bytes;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
}

/** Resolves with `null` when the stream ends cleanly, or the error that ended it. */
async function streamEnd(conn: Deno.Conn): Promise<null | Error> {
  const buffer = new Uint8Array(1024);
  for (let reads = 0; reads < 1000; reads++) {
    try {
      if (await conn.read(buffer) === null) return null;
    } catch (error) {
      return error as Error;
    }
  }
  throw new Error("The stream went on for 1000 reads");
}

/** `Schema namespace [event]` of each packet a direction carried. */
function summary(log: EventLog, direction: "C>S" | "S>C"): string[] {
  return log.all("packet").filter((event) => event.direction === direction).map(({ entry }) => {
    const frame = entry.frame;
    const schema = frame.type === "control" || frame.type === "message" ? frame.schema.name : "?";
    return [schema, entry.namespace, entry.eventName].filter((part) => part).join(" ");
  });
}

const ping = encodeFrame(Ping, { timestamp: 1000 }).slice();
const pong = encodeFrame(Pong, { timestamp: 1000 }).slice();

Deno.test("PacketRelay relays the seed flow of the real client and the demo server, decoding both directions", async () => {
  await using demo = await startDemo();
  const log = new EventLog();
  await using relay = new PacketRelay({ target: { port: demo.port }, onEvent: log.push });
  {
    await using client = new GameSocketClient();
    await within(client.connect("127.0.0.1", relay.addr.port), "the connection");
    const home = await within(client.of("/home").ready, "the handshake of /home");
    const hello = eventOf<[unknown]>(home, "hello");
    await within(home.join("lobby"), "the lobby join");
    home.to("lobby").emit("hello", "hello all");
    assert.equal((await hello)[0], "hello all");
  }
  const closed = await log.waitFor("close");
  assert.equal(closed.error, undefined);

  const upstream = summary(log, "C>S");
  const downstream = summary(log, "S>C");
  assert.deepEqual(upstream.slice(0, 5), [
    "Connect /",
    "Connect /",
    "RoomJoin /home",
    "EventName /",
    "RoomEvent /home hello",
  ]);
  assert.deepEqual(downstream.slice(0, 5), [
    "Handshake /",
    "Handshake /home",
    "RoomJoined /home",
    "EventName /",
    "RoomEvent /home hello",
  ]);
  // Every byte read in a direction belongs to exactly one packet, in order: none was lost,
  // added or left undecoded.
  for (const direction of ["C>S", "S>C"] as const) {
    const read = log.all("chunk").filter((event) => event.direction === direction);
    const packets = log.all("packet").filter((event) => event.direction === direction);
    assert.deepEqual(
      concatBytes(packets.map((event) => event.bytes)),
      concatBytes(read.map((event) => event.data)),
    );
    assert.equal(closed.bytes[direction], concatBytes(read.map((event) => event.data)).length);
  }
  assert.deepEqual(log.all("note"), []);
  assert.deepEqual(log.all("error"), []);
});

Deno.test("PacketRelay forwards each byte as soon as it arrives, unchanged, in both directions", async () => {
  using server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const log = new EventLog();
  await using relay = new PacketRelay({ target: { port: server.addr.port }, onEvent: log.push });
  await using client = await RawPeer.connect(relay.addr.port);
  using accepted = await within(server.accept(), "the relay's connection");
  accepted.setNoDelay(true);
  for (const frame of SEED_FLOW) {
    const [from, to] = frame.direction === "C>S"
      ? [client.conn, accepted]
      : [accepted, client.conn];
    // The first byte alone must get through before the rest of the frame is even sent.
    await writeAll(from, frame.bytes.subarray(0, 1));
    const first = await within(readExactly(to, 1), `the first byte of: ${frame.note}`);
    await writeAll(from, frame.bytes.subarray(1));
    const rest = await within(readExactly(to, frame.bytes.length - 1), frame.note);
    assert.equal(toHex(concatBytes([first, rest])), toHex(frame.bytes), frame.note);
  }
  const packets = log.all("packet");
  assert.deepEqual(
    packets.map((event) => [event.direction, toHex(event.bytes)]),
    SEED_FLOW.map((frame) => [frame.direction, toHex(frame.bytes)]),
  );
  assert.equal(
    formatEntry(packets.at(-1)!.entry),
    `#10 RoomEvent /home {room: "lobby", event: 0 "hello", payloadType: 2 (string), ` +
      `payload: "hello all", sender: "nB4NL0eoS26NOl97LE5qgA"}`,
  );
});

Deno.test("PacketRelay reports bytes that do not decode, relays them unchanged and keeps serving", async () => {
  using server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const log = new EventLog();
  await using relay = new PacketRelay({ target: { port: server.addr.port }, onEvent: log.push });
  // A length of 3, then a header byte claiming protocol version 7.
  const garbage = Uint8Array.of(0x03, 0x70, 0x00, 0x00, 0xde, 0xad);
  {
    await using peer = await RawPeer.connect(relay.addr.port);
    using accepted = await within(server.accept(), "the relay's connection");
    await peer.write(garbage);
    assert.deepEqual(await within(readExactly(accepted, garbage.length)), garbage);
    const error = await log.waitFor("error");
    assert.equal(error.direction, "C>S");
    assert.equal(error.fault.error.code, "unsupported_version");
    assert.deepEqual(error.bytes, garbage);
    assert.match(
      formatRelayEvent(error)!,
      /^conn 1 C>S \d+\.\d{3}s error: .*\[unsupported_version\]$/,
    );
    // What follows is relayed too, reported as undecoded.
    await peer.write(ping);
    assert.deepEqual(await within(readExactly(accepted, ping.length)), ping);
    const note = await log.waitFor("note");
    assert.equal(note.entry.message, `${ping.length} bytes relayed undecoded after the error`);
    // The other direction still decodes.
    await writeAll(accepted, pong);
    assert.equal((await within(peer.next(), "the pong"))?.type, "control");
    assert.equal(formatEntry((await log.waitFor("packet")).entry), "#1 Pong / {timestamp: 1000}");
  }
  await using second = await RawPeer.connect(relay.addr.port);
  using accepted = await within(server.accept(), "the second connection");
  await second.write(ping);
  assert.deepEqual(await within(readExactly(accepted, ping.length)), ping);
  const packet = await log.waitFor("packet", (event) => event.conn === 2);
  assert.equal(formatEntry(packet.entry), "#2 Ping / {timestamp: 1000}");
});

Deno.test("PacketRelay passes a half-close on: the other direction goes on until it ends too", async () => {
  using server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const log = new EventLog();
  await using relay = new PacketRelay({ target: { port: server.addr.port }, onEvent: log.push });
  using client = await Deno.connect({ hostname: "127.0.0.1", port: relay.addr.port });
  using accepted = await within(server.accept(), "the relay's connection");
  await writeAll(client, ping);
  await client.closeWrite();
  assert.deepEqual(await within(readExactly(accepted, ping.length)), ping);
  assert.equal(await within(streamEnd(accepted), "the forwarded end"), null);
  const end = await log.waitFor("end");
  assert.deepEqual([end.direction, end.how], ["C>S", "end"]);

  await writeAll(accepted, pong);
  assert.deepEqual(await within(readExactly(client, pong.length)), pong);
  await accepted.closeWrite();
  assert.equal(await within(streamEnd(client), "the forwarded end"), null);
  const closed = await log.waitFor("close");
  assert.deepEqual(closed.bytes, { "C>S": ping.length, "S>C": pong.length });
  assert.deepEqual(log.all("end").map((event) => [event.direction, event.how]), [
    ["C>S", "end"],
    ["S>C", "end"],
  ]);
});

Deno.test("PacketRelay closes both sides when a side it forwards to has reset the connection", async () => {
  using server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const log = new EventLog();
  await using relay = new PacketRelay({ target: { port: server.addr.port }, onEvent: log.push });
  using client = await Deno.connect({ hostname: "127.0.0.1", port: relay.addr.port });
  const accepted = await within(server.accept(), "the relay's connection");
  await writeAll(client, ping);
  // Closing with bytes unread makes the kernel answer with a reset, which Deno reads as an end.
  await within(readExactly(accepted, 1));
  accepted.close();
  assert.equal(await within(streamEnd(client), "the forwarded end"), null);
  // The next bytes cannot be forwarded: the relay closes both sides.
  await writeAll(client, ping);
  const reset = await log.waitFor("end", (event) => event.how === "reset");
  assert.equal(reset.direction, "C>S");
  assert.match(reset.message, /^cannot forward to the server: .*; closing both sides$/);
  const closed = await log.waitFor("close");
  assert.deepEqual(closed.bytes, { "C>S": 2 * ping.length, "S>C": 0 });
  assert.deepEqual(log.all("end").map((event) => [event.direction, event.how]), [
    ["S>C", "end"],
    ["C>S", "reset"],
  ]);
});

Deno.test("PacketRelay reports a target that refuses the connection and closes the client's side", async () => {
  const refusing = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = refusing.addr.port;
  refusing.close();
  const log = new EventLog();
  await using relay = new PacketRelay({ target: { port }, onEvent: log.push });
  using client = await Deno.connect({ hostname: "127.0.0.1", port: relay.addr.port });
  assert.ok(await within(streamEnd(client), "the end of the client's stream") !== undefined);
  const closed = await log.waitFor("close");
  assert.match(closed.error ?? "", new RegExp(`^cannot connect to 127\\.0\\.0\\.1:${port}: `));
  assert.deepEqual(log.all("open"), []);
});

Deno.test("PacketRelay.close ends every connection on both sides and stops listening", async () => {
  using server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const log = new EventLog();
  const relay = new PacketRelay({ target: { port: server.addr.port }, onEvent: log.push });
  using first = await Deno.connect({ hostname: "127.0.0.1", port: relay.addr.port });
  using firstAccepted = await within(server.accept(), "the first connection");
  using second = await Deno.connect({ hostname: "127.0.0.1", port: relay.addr.port });
  using secondAccepted = await within(server.accept(), "the second connection");
  await log.waitFor("open", (event) => event.conn === 2);
  await within(relay.close(), "the relay's close");
  await within(relay.finished, "the relay's end");
  for (const conn of [first, firstAccepted, second, secondAccepted]) {
    assert.ok(await within(streamEnd(conn), "the end of a stream") !== undefined);
  }
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: relay.addr.port }),
    Deno.errors.ConnectionRefused,
  );
  assert.equal(log.all("close").length, 2);
});

Deno.test("PacketRelay refuses a port out of range with a RangeError", () => {
  assert.throws(() => new PacketRelay({ target: { port: 0 } }), RangeError);
  assert.throws(
    () => new PacketRelay({ listen: { port: 70000 }, target: { port: 1 } }),
    RangeError,
  );
  assert.throws(() => new PacketRelay({ target: { port: 1 }, maxFrameSize: 0 }), RangeError);
});

Deno.test("a relay capture of the relayed chunks decodes to the packets the relay reported", async () => {
  await using demo = await startDemo();
  const log = new EventLog();
  await using relay = new PacketRelay({ target: { port: demo.port }, onEvent: log.push });
  for (let round = 0; round < 2; round++) {
    await using client = new GameSocketClient();
    await within(client.connect("127.0.0.1", relay.addr.port), "the connection");
    const home = await within(client.of("/home").ready, "the handshake of /home");
    await within(home.join("lobby"), "the lobby join");
  }
  await log.waitFor("close", (event) => event.conn === 2);
  const capture = [
    RELAY_CAPTURE_HEADER,
    "# a comment",
    ...log.all("chunk").map(formatRelayCaptureChunk),
  ]
    .join("\n");
  assert.ok(isRelayCapture(capture));
  const decoded = decodeCapture(capture);
  assert.equal(decoded.format, "relay");
  assert.deepEqual(decoded.faults, []);
  const relayed = log.all("packet").map(({ entry }) => formatEntry(entry, { showStreams: true }));
  assert.deepEqual(
    decoded.entries.map((entry) => formatEntry(entry, { showStreams: true })),
    relayed,
  );
  assert.match(relayed[0]!, /^#1 client 1 -> server 1 Connect \/ /);
  assert.ok(relayed.some((line) => /^#\d+ server 2 -> client 2 Handshake \/home /.test(line)));
});

Deno.test("parseRelayCapture names the line and column of a malformed chunk", () => {
  const header = RELAY_CAPTURE_HEADER;
  const at = (text: string) => {
    try {
      parseRelayCapture(text);
    } catch (error) {
      if (error instanceof HexInputError) return [error.line, error.column];
      throw error;
    }
    assert.fail("no error");
  };
  assert.deepEqual(at(`${header}\n1 C>S 0.001 08 1g`), [2, 17]);
  assert.deepEqual(at(`${header}\n\n1 X>Y 0.001 08`), [3, 1]);
  assert.deepEqual(at("1 C>S 0.001 08"), [1, 1]);
  assert.throws(() => parseRelayCapture("# game-socket relay capture 9\n"), HexInputError);
  assert.deepEqual(parseRelayCapture(`${header}\n3 S>C 2.5 08 10\n`), [
    { conn: 3, direction: "S>C", time: 2.5, data: Uint8Array.of(8, 16) },
  ]);
});

Deno.test("formatRelayEvent and relayEventToJson put connection, direction and time first", () => {
  const [entry] = decodeCapture(toHex(ping)).entries;
  assert.ok(entry?.type === "packet");
  const event = {
    type: "packet",
    conn: 4,
    direction: "S>C",
    time: 1.23456,
    entry,
    bytes: ping,
  } as const;
  assert.equal(formatRelayEvent(event), "conn 4 S>C 1.235s #1 Ping / {timestamp: 1000}");
  assert.equal(
    formatRelayEvent(event, { hex: true }),
    "conn 4 S>C 1.235s #1 Ping / {timestamp: 1000}\n    08 10 00 03 00 00 00 03 e8",
  );
  assert.deepEqual(relayEventToJson(event, { hex: true }), {
    type: "packet",
    conn: 4,
    direction: "S>C",
    time: 1.235,
    number: 1,
    offset: 0,
    size: 9,
    channel: 0,
    namespace: "/",
    kind: "control",
    schema: "Ping",
    code: 3,
    version: 0,
    value: { timestamp: 1000 },
    hex: "08 10 00 03 00 00 00 03 e8",
  });
  const chunk = { type: "chunk", conn: 4, direction: "S>C", time: 1, data: ping } as const;
  assert.equal(formatRelayEvent(chunk), undefined);
  assert.equal(relayEventToJson(chunk), undefined);
});

Deno.test("packetMatches picks packets by namespace, event name or schema name", async () => {
  await using demo = await startDemo();
  const log = new EventLog();
  await using relay = new PacketRelay({ target: { port: demo.port }, onEvent: log.push });
  {
    await using client = new GameSocketClient();
    await within(client.connect("127.0.0.1", relay.addr.port), "the connection");
    const home = await within(client.of("/home").ready, "the handshake of /home");
    const hello = eventOf(home, "hello");
    await within(home.join("lobby"), "the lobby join");
    home.to("lobby").emit("hello", "hello all");
    await hello;
  }
  await log.waitFor("close");
  const picked = (names: string[]) =>
    log.all("packet").filter(({ entry }) => packetMatches(entry, names)).map(({ entry }) =>
      entry.frame.type === "control" ? entry.frame.schema.name : entry.frame.type
    );
  assert.deepEqual(picked(["hello"]), ["EventName", "RoomEvent", "EventName", "RoomEvent"]);
  assert.deepEqual(picked(["RoomJoin", "RoomJoined"]), ["RoomJoin", "RoomJoined"]);
  assert.ok(picked(["/home"]).includes("Handshake"));
  assert.ok(!picked(["/home"]).includes("EventName"));
  assert.equal(picked([]).length, log.all("packet").length);
  assert.deepEqual(picked(["nothing"]), []);
});
