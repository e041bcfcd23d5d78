import assert from "node:assert/strict";
import {
  BUILTIN_SCHEMAS,
  DatagramType,
  decodeEntryList,
  decodeFrame,
  describeSchema,
  encodeEntryList,
  encodeFrame,
  encodeHello,
  encodeRawFrame,
  FrameDecoder,
  Ping,
  RoomListing,
  SchemaRegistry,
  writeDatagram,
} from "../protocol/mod.ts";
import { DatagramKey } from "../transport/datagram_key.ts";
import { PlayerState, sample } from "../bench/player_state.ts";
import { SEED_FLOW } from "../examples/seed_flow/transcript.ts";

const doc = await Deno.readTextFile(new URL("../docs/PROTOCOL.md", import.meta.url));

/** The hex blocks of the page: ```hex example=name or ```hex transcript=name. */
function hexBlock(attribute: string): string {
  const match = doc.match(new RegExp("```hex " + attribute + "\\n([\\s\\S]*?)```"));
  assert.ok(match, `PROTOCOL.md has no block "${attribute}"`);
  return match[1]!;
}

function parseHex(text: string): Uint8Array {
  const digits = text.replace(/#.*$/gm, "").trim().split(/\s+/).filter((s) => s !== "");
  return new Uint8Array(digits.map((pair) => {
    assert.match(pair, /^[0-9a-f]{2}$/);
    return parseInt(pair, 16);
  }));
}

const text = (value: string) => new TextEncoder().encode(value);

/** The page of two rooms of the entry list example, as PROTOCOL.md describes it. */
const roomListPage = [
  { room: "arena", members: 3, capacity: 4, metadata: text("{}") },
  { room: "vault", members: 1, metadata: text("{}"), locked: true },
];

const docKey = new DatagramKey(Uint8Array.from({ length: 32 }, (_, i) => i));

const examples: Record<string, Uint8Array> = {
  "datagram-hello": docKey.seal(
    writeDatagram(
      { fromServer: false, type: DatagramType.Hello, session: 7, sequence: 0 },
      encodeHello({ time: 1000, echo: 0 }),
    ),
  ),
  "datagram-player-state": docKey.seal(
    writeDatagram(
      { fromServer: true, type: DatagramType.Unreliable, session: 7, sequence: 1 },
      encodeFrame(PlayerState, sample, { channel: 1 }),
    ),
  ),
  "player-state": encodeFrame(PlayerState, sample, { channel: 1 }),
  "player-state-named": encodeFrame(PlayerState, { ...sample, name: "Вася" }, { channel: 1 }),
  "ping": encodeFrame(Ping, { timestamp: 1000 }),
  "raw-channel-300": encodeRawFrame(new Uint8Array([0xca, 0xfe, 0xba, 0xbe]), { channel: 300 }),
  "room-list-entries": encodeEntryList(RoomListing, roomListPage),
};

for (const [name, bytes] of Object.entries(examples)) {
  Deno.test(`PROTOCOL.md worked example "${name}" matches the encoder byte for byte`, () => {
    assert.deepEqual(parseHex(hexBlock(`example=${name}`)), bytes);
  });
}

Deno.test("PROTOCOL.md worked example 1 decodes to the values the page states", () => {
  const frame = decodeFrame(parseHex(hexBlock("example=player-state")), {
    schemas: new SchemaRegistry([PlayerState]),
  });
  assert.ok(frame.type === "message");
  assert.equal(frame.channel, 1);
  const value = frame.value as typeof sample;
  assert.equal(value.id, 1042);
  assert.equal(value.y, -4);
  assert.equal(value.angle, Math.PI / 2);
  assert.equal(value.health, 191 / 255);
  assert.equal(Object.hasOwn(value, "name"), false);
});

Deno.test("PROTOCOL.md entry list example decodes to the two listings the page states", () => {
  const bytes = parseHex(hexBlock("example=room-list-entries"));
  assert.deepEqual(decodeEntryList(RoomListing, bytes, 100), roomListPage);
});

Deno.test("PROTOCOL.md seed-flow transcript matches the transcript's frames byte for byte", () => {
  const frames: { direction: string; hex: string }[] = [];
  for (const line of hexBlock("transcript=seed-flow").split("\n")) {
    const start = line.match(/^(C>S|S>C) (.*)$/);
    if (start) frames.push({ direction: start[1]!, hex: start[2]! });
    else if (line.trim() !== "") frames[frames.length - 1]!.hex += " " + line;
  }
  assert.equal(frames.length, SEED_FLOW.length);
  frames.forEach((frame, i) => {
    assert.equal(frame.direction, SEED_FLOW[i]!.direction, `frame ${i + 1}`);
    assert.deepEqual(parseHex(frame.hex), SEED_FLOW[i]!.bytes, `frame ${i + 1}`);
  });
});

Deno.test("PROTOCOL.md seed-flow frames decode, each as one whole frame", () => {
  for (const direction of ["C>S", "S>C"]) {
    const decoder = new FrameDecoder();
    const sent = SEED_FLOW.filter((frame) => frame.direction === direction);
    const stream = new Uint8Array(sent.flatMap((frame) => [...frame.bytes]));
    assert.equal([...decoder.push(stream)].length, sent.length);
    assert.equal(decoder.buffered, 0);
  }
});

Deno.test("PROTOCOL.md lists every built-in schema exactly as the implementation defines it", () => {
  for (const schema of BUILTIN_SCHEMAS) {
    assert.ok(doc.includes("`" + describeSchema(schema) + "`"), describeSchema(schema));
  }
  const listed = doc.match(/^\| `\d+\.\d+ \w+ \{/gm) ?? [];
  assert.equal(listed.length, BUILTIN_SCHEMAS.size);
  assert.ok(doc.includes(describeSchema(PlayerState)));
});

Deno.test("PROTOCOL.md states the fingerprint of an empty schema set correctly", () => {
  assert.equal(new SchemaRegistry().fingerprint, "cbf29ce484222325");
  assert.ok(doc.includes("`cbf29ce484222325`"));
});
