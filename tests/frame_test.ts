import assert from "node:assert/strict";
import {
  BinaryWriter,
  ChannelTable,
  decodeFrame,
  defineSchema,
  Disconnect,
  encodeFrame,
  encodeRawFrame,
  Event,
  type Frame,
  FrameDecoder,
  type FrameReadOptions,
  MAX_FRAME_SIZE_LIMIT,
  PayloadType,
  Ping,
  ProtocolError,
  type ProtocolErrorCode,
  RoomJoin,
  SchemaRegistry,
  writeFrame,
  writeRawFrame,
} from "../protocol/mod.ts";

// --- Schemas and helpers ---

const Chat = defineSchema({
  name: "Chat",
  code: 1,
  version: 0,
  fields: {
    text: { id: 0, type: "string" },
    attachment: { id: 1, type: "bytes", optional: true },
    urgent: { id: 2, type: "bool", optional: true },
  },
});

/** An application schema with the same code and version as the built-in Ping. */
const AppPing = defineSchema({
  name: "AppPing",
  code: 3,
  version: 0,
  fields: { timestamp: { id: 0, type: "uint32" } },
});

const schemas = new SchemaRegistry([Chat, AppPing]);

/** A matcher for assert.throws: a ProtocolError with this code (and offset, when given). */
function fault(code: ProtocolErrorCode, offset?: number): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${error}`);
    assert.equal(error.code, code, error.message);
    if (offset !== undefined) assert.equal(error.offset, offset, error.message);
    return true;
  };
}

function bytesOf(length: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

/** Decodes a stream of frames with a FrameDecoder, all at once. */
function decodeStream(bytes: Uint8Array, options: FrameReadOptions = {}): Frame[] {
  const decoder = new FrameDecoder(options);
  const frames = [...decoder.push(bytes)];
  assert.equal(decoder.buffered, 0);
  return frames;
}

// --- Channels ---

Deno.test("encodeFrame writes channels 0, 127, 128 and 65535 as varuints and decodeFrame reads them back", () => {
  const cases: [number, number[]][] = [
    [0, [0x00]],
    [127, [0x7f]],
    [128, [0x80, 0x01]],
    [65535, [0xff, 0xff, 0x03]],
  ];
  for (const [channel, varint] of cases) {
    const ping = encodeFrame(Ping, { timestamp: 0xdeadbeef }, { channel });
    assert.deepEqual(
      [...ping],
      [1 + varint.length + 2 + 4, 0x10, ...varint, 3, 0, 0xde, 0xad, 0xbe, 0xef],
    );
    assert.deepEqual(decodeFrame(ping), {
      type: "control",
      channel,
      schema: Ping,
      value: { timestamp: 0xdeadbeef },
      offset: 0,
      size: ping.length,
    });

    const raw = encodeRawFrame(Uint8Array.of(1, 2, 3), { channel });
    assert.deepEqual([...raw], [1 + varint.length + 3, 0x12, ...varint, 1, 2, 3]);
    assert.deepEqual(decodeFrame(raw), {
      type: "raw",
      channel,
      data: Uint8Array.of(1, 2, 3),
      offset: 0,
      size: raw.length,
    });

    const chat = encodeFrame(Chat, { text: "hi", urgent: true }, { channel });
    assert.deepEqual(
      [...chat],
      [1 + varint.length + 2 + 1 + 3, 0x11, ...varint, 1, 0, 0x60, 2, 0x68, 0x69],
    );
    assert.deepEqual(decodeFrame(chat, { schemas }), {
      type: "message",
      channel,
      schema: Chat,
      value: { text: "hi", urgent: true },
      offset: 0,
      size: chat.length,
    });
  }
});

Deno.test("encoders refuse channel 65536 and other channels outside 0..65535 with RangeError", () => {
  for (const channel of [65536, 2 ** 32, -1, 1.5, Number.NaN, Infinity]) {
    assert.throws(() => encodeFrame(Ping, { timestamp: 1 }, { channel }), RangeError);
    assert.throws(() => encodeRawFrame(Uint8Array.of(1), { channel }), RangeError);
    const writer = new BinaryWriter();
    writer.uint8(0xaa);
    assert.throws(() => writeFrame(writer, Ping, { timestamp: 1 }, { channel }), RangeError);
    assert.throws(() => writeRawFrame(writer, Uint8Array.of(1), { channel }), RangeError);
    assert.equal(writer.length, 1, "nothing appended");
    assert.equal(writer.bytes[0], 0xaa);
  }
});

Deno.test("decodeFrame refuses a channel above 65535 with varint_oversized", () => {
  // 65536 as a 3-byte varuint, and a channel of 4 varint bytes.
  assert.throws(
    () => decodeFrame(Uint8Array.of(5, 0x12, 0x80, 0x80, 0x04, 0xaa)),
    fault("varint_oversized", 2),
  );
  assert.throws(
    () => decodeFrame(Uint8Array.of(5, 0x12, 0x80, 0x80, 0x80, 0x01)),
    fault("varint_oversized", 2),
  );
});

// --- Length prefixes ---

Deno.test("frames of 128 bytes or more get a 2-byte length prefix and decode", () => {
  // header + channel + data: 2 + 125 = 127 bytes fit a 1-byte prefix; 2 + 126 = 128 do not.
  const short = encodeRawFrame(bytesOf(125));
  assert.equal(short.length, 128);
  assert.equal(short[0], 127);
  assert.equal(decodeFrame(short).size, 128);

  const long = encodeRawFrame(bytesOf(126));
  assert.equal(long.length, 130);
  assert.deepEqual([...long.subarray(0, 3)], [0x80, 0x01, 0x12]);
  assert.deepEqual(decodeFrame(long), {
    type: "raw",
    channel: 0,
    data: bytesOf(126),
    offset: 0,
    size: 130,
  });

  // A message: header, 2-byte channel, code, version, bit byte, 2-byte string length, 300 bytes.
  const text = "x".repeat(300);
  const chat = encodeFrame(Chat, { text }, { channel: 300 });
  assert.equal(chat.length, 310);
  assert.deepEqual([...chat.subarray(0, 5)], [0xb4, 0x02, 0x11, 0xac, 0x02]);
  assert.deepEqual(decodeFrame(chat, { schemas }), {
    type: "message",
    channel: 300,
    schema: Chat,
    value: { text },
    offset: 0,
    size: 310,
  });

  // The largest 2-byte prefix, and the smallest 3-byte one.
  const widest2 = encodeRawFrame(bytesOf(16381));
  assert.deepEqual([...widest2.subarray(0, 2)], [0xff, 0x7f]);
  assert.equal(decodeFrame(widest2).size, 16385);
  const narrowest3 = encodeRawFrame(bytesOf(16382));
  assert.deepEqual([...narrowest3.subarray(0, 3)], [0x80, 0x80, 0x01]);
  assert.equal(decodeFrame(narrowest3).size, 16387);
});

Deno.test("a frame of 2 MiB gets a 4-byte length prefix and decodes with a raised maxFrameSize", () => {
  const maxFrameSize = 2 ** 21 + 16;
  const data = bytesOf(2 ** 21 - 2, 7);
  const bytes = encodeRawFrame(data, { maxFrameSize });
  assert.deepEqual([...bytes.subarray(0, 5)], [0x80, 0x80, 0x80, 0x01, 0x12]);
  const frame = decodeFrame(bytes, { maxFrameSize });
  assert.ok(frame.type === "raw");
  assert.equal(frame.size, bytes.length);
  assert.deepEqual(frame.data, data);
  assert.deepEqual(decodeStream(bytes, { maxFrameSize }), [frame]);
  const decoder = new FrameDecoder({ maxFrameSize });
  const chunks = [bytes.subarray(0, 3), bytes.subarray(3, 70000), bytes.subarray(70000)];
  assert.deepEqual(chunks.flatMap((chunk) => [...decoder.push(chunk)]), [frame]);
  assert.throws(() => decodeFrame(bytes), fault("frame_too_large", 0));
});

// --- maxFrameSize ---

Deno.test("encoders refuse a frame above maxFrameSize with RangeError and append nothing", () => {
  // Raw: 2 + 98 = 100 bytes after the prefix.
  assert.equal(encodeRawFrame(bytesOf(98), { maxFrameSize: 100 }).length, 101);
  assert.throws(() => encodeRawFrame(bytesOf(98), { maxFrameSize: 99 }), RangeError);

  // Message: 2 + 2 + 1 + 1 + 120 = 126 bytes after the prefix.
  const value = { text: "y".repeat(120) };
  assert.equal(encodeFrame(Chat, value, { maxFrameSize: 126 }).length, 127);
  assert.throws(() => encodeFrame(Chat, value, { maxFrameSize: 125 }), RangeError);

  // A frame that would need a 2-byte prefix, refused: the writer is left as it was.
  const writer = new BinaryWriter(16);
  writeFrame(writer, Ping, { timestamp: 5 });
  const before = writer.toBytes();
  assert.throws(
    () => writeFrame(writer, Chat, { text: "z".repeat(500) }, { maxFrameSize: 400 }),
    RangeError,
  );
  assert.throws(() => writeRawFrame(writer, bytesOf(500), { maxFrameSize: 400 }), RangeError);
  assert.deepEqual(writer.toBytes(), before);

  // The default limit is 65536 bytes after the prefix.
  assert.equal(encodeRawFrame(bytesOf(65534)).length, 65539);
  assert.throws(() => encodeRawFrame(bytesOf(65535)), RangeError);
});

Deno.test("encoders and decoders refuse a maxFrameSize outside 1..16 MiB with RangeError", () => {
  const small = encodeFrame(Ping, { timestamp: 1 }).slice(); // a 1-byte length prefix
  const large = encodeRawFrame(bytesOf(200)).slice(); // a 2-byte length prefix
  for (const maxFrameSize of [0, -1, 1.5, Number.NaN, MAX_FRAME_SIZE_LIMIT + 1]) {
    assert.throws(() => encodeRawFrame(Uint8Array.of(1), { maxFrameSize }), RangeError);
    assert.throws(() => new FrameDecoder({ maxFrameSize }), RangeError);
    // The option is checked whatever the frame, not only when the frame is long.
    assert.throws(() => decodeFrame(small, { maxFrameSize }), RangeError, `${maxFrameSize}`);
    assert.throws(() => decodeFrame(large, { maxFrameSize }), RangeError, `${maxFrameSize}`);
  }
  assert.equal(decodeFrame(small, { maxFrameSize: MAX_FRAME_SIZE_LIMIT }).size, small.length);
});

Deno.test("decodeFrame refuses a frame above maxFrameSize with frame_too_large", () => {
  const small = encodeRawFrame(bytesOf(98)); // length 100
  assert.equal(decodeFrame(small, { maxFrameSize: 100 }).size, 101);
  assert.throws(() => decodeFrame(small, { maxFrameSize: 99 }), fault("frame_too_large", 0));
  assert.throws(() => decodeFrame(small, { maxFrameSize: 1 }), fault("frame_too_large", 0));

  const large = encodeRawFrame(bytesOf(198)); // length 200, 2-byte prefix
  assert.equal(decodeFrame(large, { maxFrameSize: 200 }).size, 202);
  assert.throws(() => decodeFrame(large, { maxFrameSize: 199 }), fault("frame_too_large", 0));

  const huge = encodeRawFrame(bytesOf(65535), { maxFrameSize: 70000 }); // length 65537
  assert.throws(() => decodeFrame(huge), fault("frame_too_large", 0));
  assert.equal(decodeFrame(huge, { maxFrameSize: 65537 }).size, huge.length);
});

// --- Frame kinds ---

Deno.test("built-in schemas travel in control frames and application schemas in message frames", () => {
  const control = encodeFrame(Ping, { timestamp: 9 });
  const message = encodeFrame(AppPing, { timestamp: 9 });
  assert.equal(control[1], 0x10);
  assert.equal(message[1], 0x11);
  // Same code and version; only the kind tells them apart.
  assert.deepEqual([...control.subarray(2)], [...message.subarray(2)]);

  const fromControl = decodeFrame(control, { schemas });
  assert.ok(fromControl.type === "control" && fromControl.schema === Ping);
  const fromMessage = decodeFrame(message, { schemas });
  assert.ok(fromMessage.type === "message" && fromMessage.schema === AppPing);
  assert.deepEqual(fromMessage.value, { timestamp: 9 });

  // Message frames never resolve against the built-in schemas.
  assert.throws(() => decodeFrame(message), fault("unknown_schema", 3));
  // Room schemas are built-in too.
  const join = encodeFrame(RoomJoin, { room: "lobby" }, { channel: 2 });
  assert.equal(join[1], 0x10);
  const frame = decodeFrame(join);
  assert.ok(frame.type === "control" && frame.schema === RoomJoin);
});

Deno.test("several frames appended to one BinaryWriter decode in order", () => {
  const writer = new BinaryWriter(16);
  const offsets: number[] = [];
  const mark = () => offsets.push(writer.length);
  mark();
  writeFrame(writer, Ping, { timestamp: 1 });
  mark();
  writeFrame(writer, Chat, { text: "é".repeat(100), attachment: bytesOf(3) }, { channel: 1 });
  mark();
  writeRawFrame(writer, bytesOf(200), { channel: 300 });
  mark();
  writeFrame(
    writer,
    Event,
    { event: 4, payloadType: PayloadType.String, payload: bytesOf(5) },
    { channel: 65535 },
  );
  mark();
  writeRawFrame(writer, new Uint8Array(0));
  mark();
  writeFrame(writer, Disconnect, {}, { channel: 128 });
  mark();
  const bytes = writer.toBytes();
  assert.equal(bytes.length, offsets.at(-1));

  const expected = [
    { type: "control", channel: 0, schema: Ping, value: { timestamp: 1 } },
    {
      type: "message",
      channel: 1,
      schema: Chat,
      value: { text: "é".repeat(100), attachment: bytesOf(3) },
    },
    { type: "raw", channel: 300, data: bytesOf(200) },
    {
      type: "control",
      channel: 65535,
      schema: Event,
      value: { event: 4, payloadType: PayloadType.String, payload: bytesOf(5) },
    },
    { type: "raw", channel: 0, data: new Uint8Array(0) },
    { type: "control", channel: 128, schema: Disconnect, value: {} },
  ].map((frame, i) => ({ ...frame, offset: offsets[i]!, size: offsets[i + 1]! - offsets[i]! }));

  assert.deepEqual(decodeStream(bytes, { schemas }), expected);
  // Each slice decodes alone, too.
  for (const frame of expected) {
    const slice = bytes.subarray(frame.offset, frame.offset + frame.size);
    assert.deepEqual(decodeFrame(slice, { schemas }), { ...frame, offset: 0 });
  }
});

// --- decodeFrame faults ---

Deno.test("decodeFrame refuses bytes after the frame with trailing_bytes", () => {
  const ping = encodeFrame(Ping, { timestamp: 3 });
  assert.throws(() => decodeFrame(Uint8Array.of(...ping, 0)), fault("trailing_bytes", 9));
  const two = Uint8Array.of(...ping, ...ping);
  assert.throws(() => decodeFrame(two), fault("trailing_bytes", 9));
  const long = encodeRawFrame(bytesOf(300));
  assert.throws(
    () => decodeFrame(Uint8Array.of(...long, 1, 2)),
    fault("trailing_bytes", long.length),
  );
});

Deno.test("decodeFrame refuses a truncated frame with truncated", () => {
  const ping = encodeFrame(Ping, { timestamp: 3 });
  for (let end = 0; end < ping.length; end++) {
    assert.throws(() => decodeFrame(ping.subarray(0, end)), fault("truncated"), `end ${end}`);
  }
  const long = encodeRawFrame(bytesOf(300), { channel: 300 });
  for (const end of [1, 2, 3, long.length - 1]) {
    assert.throws(() => decodeFrame(long.subarray(0, end)), fault("truncated"), `end ${end}`);
  }
  // A length that covers the bytes given, but a body cut short inside the frame.
  assert.throws(() => decodeFrame(Uint8Array.of(4, 0x10, 0x00, 3, 0)), fault("truncated", 5));
  // An empty frame is not a truncated one.
  assert.throws(() => decodeFrame(Uint8Array.of(0)), fault("empty_frame", 0));
});

Deno.test("decodeFrame refuses overlong and oversized length prefixes", () => {
  const ping = encodeFrame(Ping, { timestamp: 3 }).subarray(1);
  // 8 written in two bytes, and a prefix of five bytes.
  assert.throws(() => decodeFrame(Uint8Array.of(0x88, 0x00, ...ping)), fault("varint_overlong", 0));
  assert.throws(
    () => decodeFrame(Uint8Array.of(0x88, 0x80, 0x80, 0x80, 0x00, ...ping)),
    fault("varint_oversized", 0),
  );
});

Deno.test("decodeFrame keeps a frame of an unknown schema as an UnknownSchemaFrame when asked", () => {
  const body = Uint8Array.of(0x80, 0x01, 0x02);
  const message = Uint8Array.of(8, 0x11, 0x80, 0x01, 42, 7, ...body);
  const frame = decodeFrame(message, { unknownSchemas: "keep" });
  assert.deepEqual(frame, {
    type: "unknown",
    kind: "message",
    channel: 128,
    code: 42,
    version: 7,
    body,
    offset: 0,
    size: 9,
  });
  // The body is a copy.
  message[7] = 0xff;
  assert.ok(frame.type === "unknown");
  assert.equal(frame.body[1], 0x01);

  // A control frame of a code no built-in schema has.
  const control = Uint8Array.of(4, 0x10, 0x00, 200, 0);
  assert.deepEqual(decodeFrame(control, { unknownSchemas: "keep", schemas }), {
    type: "unknown",
    kind: "control",
    channel: 0,
    code: 200,
    version: 0,
    body: new Uint8Array(0),
    offset: 0,
    size: 5,
  });
  // A known code with an unknown version is unknown as well.
  const future = encodeFrame(Chat, { text: "v2" });
  future[4] = 1;
  const kept = decodeFrame(future, { schemas, unknownSchemas: "keep" });
  assert.ok(kept.type === "unknown" && kept.code === 1 && kept.version === 1);
  // Known schemas still decode when unknown ones are kept.
  const known = decodeFrame(encodeFrame(Chat, { text: "ok" }), {
    schemas,
    unknownSchemas: "keep",
  });
  assert.ok(known.type === "message" && known.schema === Chat);
});

Deno.test("decodeFrame refuses an unknown schema with unknown_schema unless asked to keep it", () => {
  const message = Uint8Array.of(4, 0x11, 0x00, 42, 0);
  assert.throws(() => decodeFrame(message), fault("unknown_schema", 3));
  assert.throws(() => decodeFrame(message, { schemas }), fault("unknown_schema", 3));
  assert.throws(
    () => decodeFrame(message, { schemas, unknownSchemas: "error" }),
    fault("unknown_schema", 3),
  );
  const control = Uint8Array.of(5, 0x10, 0x80, 0x01, 200, 0);
  assert.throws(() => decodeFrame(control, { schemas }), fault("unknown_schema", 4));
});

Deno.test("decodeFrame refuses a channel that is not open in a ChannelTable with unknown_channel", () => {
  const channels = new ChannelTable();
  const frame = encodeFrame(Ping, { timestamp: 1 }, { channel: 300 });
  assert.throws(() => decodeFrame(frame, { channels }), fault("unknown_channel", 2));
  channels.open(300, "/arena");
  assert.equal(decodeFrame(frame, { channels }).channel, 300);
  channels.close(300);
  assert.throws(() => decodeFrame(frame, { channels }), fault("unknown_channel", 2));
  // The root channel is always open.
  assert.equal(decodeFrame(encodeFrame(Ping, { timestamp: 1 }), { channels }).channel, 0);
});

// --- Buffers ---

Deno.test("frames from encodeFrame stay intact while many more frames are encoded", () => {
  const first = encodeFrame(Chat, { text: "keep me" });
  const copy = first.slice();
  const firstRaw = encodeRawFrame(bytesOf(40));
  const rawCopy = firstRaw.slice();
  // Enough frames to fill the shared buffer several times, some large, some refused.
  for (let i = 0; i < 3000; i++) {
    encodeFrame(Ping, { timestamp: i });
    if (i % 100 === 0) encodeRawFrame(bytesOf(5000, i));
    if (i % 250 === 0) {
      assert.throws(
        () => encodeFrame(Chat, { text: "w".repeat(200) }, { maxFrameSize: 50 }),
        RangeError,
      );
    }
  }
  assert.deepEqual(first, copy);
  assert.deepEqual(firstRaw, rawCopy);
  const decoded = decodeFrame(first, { schemas });
  assert.ok(decoded.type === "message");
  assert.deepEqual(decoded.value, { text: "keep me" });
});

Deno.test("writeFrame appends nothing when a value is missing a field or out of range", () => {
  const writer = new BinaryWriter();
  writeFrame(writer, Ping, { timestamp: 1 });
  const before = writer.toBytes();
  assert.throws(() => writeFrame(writer, Ping, {} as { timestamp: number }), TypeError);
  assert.throws(() => writeFrame(writer, Ping, { timestamp: -1 }), RangeError);
  assert.throws(() => writeFrame(writer, Ping, { timestamp: 2 ** 32 }), RangeError);
  assert.throws(() => writeFrame(writer, Chat, { text: "\ud800" }), RangeError);
  assert.throws(() => encodeFrame(Chat, { text: 5 as unknown as string }), TypeError);
  assert.deepEqual(writer.toBytes(), before);
  writeFrame(writer, Ping, { timestamp: 2 });
  assert.deepEqual(
    decodeStream(writer.toBytes()).map((f) => f.type === "control" && f.value),
    [{ timestamp: 1 }, { timestamp: 2 }],
  );
});

Deno.test("decodeFrame returns raw data and bytes fields as copies of the input", () => {
  const raw = Uint8Array.from(encodeRawFrame(Uint8Array.of(1, 2, 3)));
  const chat = Uint8Array.from(encodeFrame(Chat, { text: "a", attachment: Uint8Array.of(4, 5) }));
  const rawFrame = decodeFrame(raw);
  const chatFrame = decodeFrame(chat, { schemas });
  raw.fill(0);
  chat.fill(0);
  assert.ok(rawFrame.type === "raw" && chatFrame.type === "message");
  assert.deepEqual(rawFrame.data, Uint8Array.of(1, 2, 3));
  assert.deepEqual(chatFrame.value, { text: "a", attachment: Uint8Array.of(4, 5) });
});
