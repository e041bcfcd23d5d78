import assert from "node:assert/strict";
import {
  BinaryWriter,
  ChannelTable,
  Connect,
  decodeFrame,
  defineSchema,
  Disconnect,
  encodeFrame,
  encodeRawFrame,
  ErrorCode,
  ErrorMessage,
  Event,
  type Frame,
  FrameDecoder,
  type FrameDecoderOptions,
  Handshake,
  MAX_FRAME_SIZE_LIMIT,
  PayloadType,
  Ping,
  Pong,
  ProtocolError,
  type ProtocolErrorCode,
  type Schema,
  SchemaRegistry,
  type ValueOf,
  writeFrame,
  writeRawFrame,
} from "../protocol/mod.ts";

// --- Schemas ---

const Chat = defineSchema({
  name: "Chat",
  code: 1,
  version: 0,
  fields: {
    from: { id: 0, type: "string" },
    text: { id: 1, type: "string" },
    attachment: { id: 2, type: "bytes", optional: true },
    urgent: { id: 3, type: "bool", optional: true },
  },
}); // bits: attachment present 0x80, urgent present 0x40, urgent value 0x20

const Name = defineSchema({
  name: "Name",
  code: 2,
  version: 0,
  fields: { name: { id: 0, type: "string" } },
});

const Flags = defineSchema({
  name: "Flags",
  code: 3,
  version: 0,
  fields: { a: { id: 0, type: "bool" }, b: { id: 1, type: "bool", optional: true } },
}); // bits: b present 0x80, a value 0x40, b value 0x20; 0x1f is padding

const Count = defineSchema({
  name: "Count",
  code: 4,
  version: 0,
  fields: { n: { id: 0, type: "varuint" } },
});

const Point = defineSchema({
  name: "Point",
  code: 5,
  version: 0,
  fields: { x: { id: 0, type: "float32" }, y: { id: 1, type: "float64" } },
});

const MaybeByte = defineSchema({
  name: "MaybeByte",
  code: 6,
  version: 0,
  fields: { v: { id: 0, type: "uint8", optional: true } },
}); // bits: v present 0x80; 0x7f is padding

const NineBools = defineSchema({
  name: "NineBools",
  code: 7,
  version: 0,
  fields: Object.fromEntries(
    Array.from({ length: 9 }, (_, i) => [`b${i}`, { id: i, type: "bool" }] as const),
  ),
}); // two bit bytes; 0x7f of the second is padding

const State = defineSchema({
  name: "State",
  code: 8,
  version: 1,
  fields: {
    id: { id: 0, type: "uint16" },
    x: { id: 1, type: "int16" },
    y: { id: 2, type: "int32" },
    hp: { id: 3, type: "uint8" },
    dx: { id: 4, type: "int8" },
    score: { id: 5, type: "uint32" },
    n: { id: 6, type: "varuint" },
    d: { id: 7, type: "varint" },
    f: { id: 8, type: "float32" },
    g: { id: 9, type: "float64", optional: true },
    alive: { id: 10, type: "bool" },
    tag: { id: 11, type: "bytes", optional: true },
    label: { id: 12, type: "string", optional: true },
  },
});

const schemas = new SchemaRegistry([Chat, Name, Flags, Count, Point, MaybeByte, NineBools, State]);

/** Every ProtocolErrorCode; the type check below fails when the union gains a member. */
const CODES = [
  "frame_too_large",
  "empty_frame",
  "varint_overlong",
  "varint_oversized",
  "unsupported_version",
  "unknown_frame_kind",
  "unknown_channel",
  "unknown_schema",
  "truncated",
  "invalid_utf8",
  "trailing_bytes",
  "padding_bits",
  "invalid_value",
  "protocol_violation",
  "limit_exceeded",
] as const satisfies readonly ProtocolErrorCode[];
const _everyCodeListed: [Exclude<ProtocolErrorCode, typeof CODES[number]>] extends [never] ? true
  : never = true;

// --- Helpers ---

type Spec =
  | {
    readonly type: "control" | "message";
    readonly schema: Schema<object>;
    readonly value: object;
    readonly channel: number;
  }
  | { readonly type: "raw"; readonly data: Uint8Array; readonly channel: number };

function control<V extends object>(schema: Schema<V>, value: V, channel = 0): Spec {
  return { type: "control", schema, value, channel };
}

function message<V extends object>(schema: Schema<V>, value: V, channel = 0): Spec {
  return { type: "message", schema, value, channel };
}

function raw(data: Uint8Array, channel = 0): Spec {
  return { type: "raw", data, channel };
}

interface Stream {
  bytes: Uint8Array;
  frames: Frame[];
}

/** Encodes frames into one buffer, with the frames a decoder should yield for it. */
function build(specs: readonly Spec[]): Stream {
  const writer = new BinaryWriter();
  const frames: Frame[] = [];
  for (const spec of specs) {
    const offset = writer.length;
    if (spec.type === "raw") {
      writeRawFrame(writer, spec.data, { channel: spec.channel });
      const size = writer.length - offset;
      frames.push({ type: "raw", channel: spec.channel, data: spec.data, offset, size });
    } else {
      writeFrame(writer, spec.schema, spec.value, { channel: spec.channel });
      frames.push({
        type: spec.type,
        channel: spec.channel,
        schema: spec.schema as Schema,
        value: spec.value as Record<string, unknown>,
        offset,
        size: writer.length - offset,
      });
    }
  }
  return { bytes: writer.toBytes(), frames };
}

function concat(...parts: ArrayLike<number>[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A frame around `content` (header, channel and the rest), with a canonical length prefix. */
function frameBytes(...content: number[]): number[] {
  const prefix: number[] = [];
  let n = content.length;
  while (n > 0x7f) {
    prefix.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  prefix.push(n);
  return [...prefix, ...content];
}

/** A message frame on channel 0: the body starts 5 bytes into it. */
function msg(code: number, version: number, ...body: number[]): number[] {
  return frameBytes(0x11, 0x00, code, version, ...body);
}

function float32Bytes(x: number): number[] {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, x);
  return [...new Uint8Array(view.buffer)];
}

function float64Bytes(x: number): number[] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return [...new Uint8Array(view.buffer)];
}

/** The most frames one push of `length` bytes can complete: each frame is 3 bytes or more. */
function maxFramesPerPush(length: number): number {
  return length === 0 ? 0 : 1 + Math.floor((length - 1) / 3);
}

interface Outcome {
  frames: Frame[];
  error: ProtocolError | undefined;
}

/** Pushes chunks until the end or the first ProtocolError; any other error fails the test. */
function feed(decoder: FrameDecoder, chunks: Iterable<Uint8Array>): Outcome {
  const frames: Frame[] = [];
  for (const chunk of chunks) {
    let yielded = 0;
    try {
      for (const frame of decoder.push(chunk)) {
        frames.push(frame);
        yielded++;
        assert.ok(
          yielded <= maxFramesPerPush(chunk.length),
          `a push of ${chunk.length} bytes yielded ${yielded} frames`,
        );
      }
    } catch (error) {
      if (error instanceof ProtocolError) return { frames, error };
      throw error;
    }
  }
  return { frames, error: undefined };
}

/** The same bytes, chunked in every way the tests care about. */
function* chunkings(bytes: Uint8Array): Generator<[string, Uint8Array[]]> {
  yield ["all at once", [bytes]];
  const padded = new Uint8Array(bytes.length + 16).fill(0xff);
  padded.set(bytes, 7);
  yield ["all at once, as a view into a larger buffer", [padded.subarray(7, 7 + bytes.length)]];
  yield ["one byte at a time", Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))];
  for (let i = 0; i <= bytes.length; i++) {
    yield [`split at ${i}`, [bytes.subarray(0, i), bytes.subarray(i)]];
  }
}

/** A matcher for assert.throws: a ProtocolError with this code (and offset, when given). */
function fault(code: ProtocolErrorCode, offset?: number): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${error}`);
    assert.equal(error.code, code, error.message);
    if (offset !== undefined) assert.equal(error.offset, offset, error.message);
    return true;
  };
}

function pattern(length: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 37 + seed) & 0xff);
}

// --- A stream of every kind of frame, fed in every chunking ---

const MIXED: readonly Spec[] = [
  control(Ping, { timestamp: 1234567 }),
  message(Chat, {
    from: "ana",
    text: "héllo wörld ✓ 😀",
    attachment: Uint8Array.of(0, 1, 2, 255),
  }, 1),
  raw(Uint8Array.of(0xde, 0xad, 0xbe, 0xef), 300),
  message(Chat, { from: "bob", text: "ü".repeat(100), urgent: true }, 300),
  control(Event, {
    event: 3,
    payloadType: PayloadType.Bytes,
    payload: pattern(50),
    ackId: 77,
  }, 1),
  raw(new Uint8Array(0), 0),
  control(Handshake, {
    namespace: "/",
    channel: 0,
    socketId: "s-1",
    protocolVersion: 1,
    schemaFingerprint: schemas.fingerprint,
    heartbeatInterval: 25000,
    heartbeatTimeout: 20000,
    maxFrameSize: 65536,
    recovered: false,
    udpPort: 7777,
  }),
  message(Name, { name: "" }, 0),
  raw(pattern(300, 5), 1),
  message(State, {
    id: 65535,
    x: -32768,
    y: -2147483648,
    hp: 255,
    dx: -128,
    score: 4294967295,
    n: 4294967295,
    d: -2147483648,
    f: 1.5,
    g: -1e300,
    alive: true,
    label: "ok",
  }, 300),
  message(Flags, { a: false, b: true }, 1),
  control(Disconnect, {}, 1),
];

Deno.test("FrameDecoder yields the same frames, offsets and sizes however the stream is split", () => {
  const { bytes, frames } = build(MIXED);
  // The stream holds frames with 2-byte length prefixes and channels 0, 1 and 300.
  const long = frames.filter((f) => f.size > 129);
  assert.ok(long.length >= 2);
  for (const f of long) assert.ok(bytes[f.offset]! >= 0x80 && bytes[f.offset + 1]! < 0x80);
  assert.deepEqual(new Set(frames.map((f) => f.channel)), new Set([0, 1, 300]));

  for (const [how, chunks] of chunkings(bytes)) {
    const decoder = new FrameDecoder({ schemas });
    const outcome = feed(decoder, chunks);
    assert.equal(outcome.error, undefined, how);
    assert.deepEqual(outcome.frames, frames, how);
    assert.equal(decoder.buffered, 0, how);
    assert.equal(decoder.offset, bytes.length, how);
  }
});

Deno.test("FrameDecoder yields frames that stay intact when the pushed chunk is reused", () => {
  const { bytes, frames } = build([
    raw(pattern(20), 1),
    message(Chat, { from: "x", text: "y", attachment: pattern(10) }),
    message(Name, { name: "z".repeat(40) }),
  ]);
  const unknown = Uint8Array.of(...msg(99, 0, 1, 2, 3));
  const buffer = concat(bytes, unknown);
  const decoder = new FrameDecoder({ schemas, unknownSchemas: "keep" });
  // The first frame arrives whole in the first chunk, the others across chunks.
  const got = [
    ...decoder.push(buffer.subarray(0, 30)),
    ...decoder.push(buffer.subarray(30, 50)),
    ...decoder.push(buffer.subarray(50)),
  ];
  buffer.fill(0xee);
  assert.deepEqual(got, [
    ...frames,
    {
      type: "unknown",
      kind: "message",
      channel: 0,
      code: 99,
      version: 0,
      body: Uint8Array.of(1, 2, 3),
      offset: bytes.length,
      size: unknown.length,
    },
  ]);
});

// --- Faults ---

const GOOD = build([
  control(Ping, { timestamp: 7 }),
  message(Name, { name: "héllo" }, 1),
  raw(pattern(150), 300), // 2-byte length prefix
]);
const TAIL = build([control(Ping, { timestamp: 9 })]);
const OPEN = new ChannelTable();
OPEN.open(1, "/one");
OPEN.open(300, "/three-hundred");

interface Fault {
  name: string;
  /** The bad frame, or the start of one. */
  bytes: number[];
  code: ProtocolErrorCode;
  /** The error's offset, counted from the first byte of `bytes`. */
  at: number;
  options?: FrameDecoderOptions;
}

const FAULTS: Fault[] = [
  // invalid_utf8: a string's bytes start 6 bytes into a Name frame.
  { name: "a lone 0xff in a string", bytes: msg(2, 0, 1, 0xff), code: "invalid_utf8", at: 6 },
  {
    name: "an overlong UTF-8 encoding (c0 80)",
    bytes: msg(2, 0, 2, 0xc0, 0x80),
    code: "invalid_utf8",
    at: 6,
  },
  {
    name: "a surrogate encoded in UTF-8 (ed a0 80)",
    bytes: msg(2, 0, 3, 0xed, 0xa0, 0x80),
    code: "invalid_utf8",
    at: 6,
  },
  {
    name: "a UTF-8 sequence cut short at the end of a 40-byte string",
    bytes: msg(2, 0, 40, ...Array(38).fill(0x61), 0xe2, 0x82),
    code: "invalid_utf8",
    at: 6,
  },
  {
    name: "invalid UTF-8 in the second string field",
    bytes: msg(1, 0, 0x00, 2, 0x6f, 0x6b, 1, 0xff),
    code: "invalid_utf8",
    at: 10,
  },
  // trailing_bytes
  {
    name: "a byte after a message's last field",
    bytes: msg(4, 0, 5, 0),
    code: "trailing_bytes",
    at: 6,
  },
  {
    name: "a byte after a control message's last field",
    bytes: frameBytes(0x10, 0x00, 3, 0, 0, 0, 0, 1, 0xaa),
    code: "trailing_bytes",
    at: 9,
  },
  // padding_bits
  { name: "a bool padding bit set", bytes: msg(3, 0, 0x10), code: "padding_bits", at: 5 },
  { name: "the last padding bit set", bytes: msg(3, 0, 0x41), code: "padding_bits", at: 5 },
  { name: "a presence padding bit set", bytes: msg(6, 0, 0x40), code: "padding_bits", at: 5 },
  {
    name: "a padding bit set in the second bit byte",
    bytes: msg(7, 0, 0xff, 0xc0),
    code: "padding_bits",
    at: 6,
  },
  {
    name: "a value bit set for an absent optional bool",
    bytes: msg(3, 0, 0x20),
    code: "padding_bits",
    at: 5,
  },
  // varint_overlong
  { name: "length prefix 0x85 0x00", bytes: [0x85, 0x00], code: "varint_overlong", at: 0 },
  {
    name: "length prefix 0x80 0x80 0x00",
    bytes: [0x80, 0x80, 0x00],
    code: "varint_overlong",
    at: 0,
  },
  {
    name: "an overlong varuint field",
    bytes: msg(4, 0, 0x80, 0x00),
    code: "varint_overlong",
    at: 5,
  },
  {
    name: "an overlong string length",
    bytes: msg(2, 0, 0x81, 0x00, 0x61),
    code: "varint_overlong",
    at: 5,
  },
  {
    name: "an overlong channel",
    bytes: frameBytes(0x12, 0x80, 0x00),
    code: "varint_overlong",
    at: 2,
  },
  // varint_oversized
  {
    name: "a 5-byte length prefix",
    bytes: [0x80, 0x80, 0x80, 0x80, 0x01],
    code: "varint_oversized",
    at: 0,
  },
  {
    name: "a varuint field above 2^32-1",
    bytes: msg(4, 0, 0xff, 0xff, 0xff, 0xff, 0x1f),
    code: "varint_oversized",
    at: 5,
  },
  {
    name: "a varuint field of 2^32",
    bytes: msg(4, 0, 0x80, 0x80, 0x80, 0x80, 0x10),
    code: "varint_oversized",
    at: 5,
  },
  {
    name: "a varuint field longer than 5 bytes",
    bytes: msg(4, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
    code: "varint_oversized",
    at: 5,
  },
  {
    name: "channel 65536",
    bytes: frameBytes(0x12, 0x80, 0x80, 0x04),
    code: "varint_oversized",
    at: 2,
  },
  {
    name: "a channel of 4 varint bytes",
    bytes: frameBytes(0x12, 0x80, 0x80, 0x80, 0x01),
    code: "varint_oversized",
    at: 2,
  },
  // empty_frame
  { name: "a zero-length frame", bytes: [0x00], code: "empty_frame", at: 0 },
  // unknown_channel
  {
    name: "a channel that was never opened",
    bytes: frameBytes(0x11, 7, 2, 0, 1, 0x61),
    code: "unknown_channel",
    at: 2,
    options: { channels: OPEN },
  },
  {
    name: "a 2-byte channel that was never opened",
    bytes: frameBytes(0x12, 0xad, 0x02),
    code: "unknown_channel",
    at: 2,
    options: { channels: OPEN },
  },
  // unknown_schema
  { name: "an unknown message schema", bytes: msg(99, 0), code: "unknown_schema", at: 3 },
  {
    name: "an unknown version of a known schema",
    bytes: msg(2, 5, 1, 0x61),
    code: "unknown_schema",
    at: 3,
  },
  {
    name: "an unknown control schema",
    bytes: frameBytes(0x10, 0x00, 200, 0),
    code: "unknown_schema",
    at: 3,
  },
  {
    name: "a built-in schema's code in a message frame",
    bytes: msg(16, 0, 0x00, 1, 0x61),
    code: "unknown_schema",
    at: 3,
  },
  // unknown_frame_kind
  { name: "frame kind 3", bytes: frameBytes(0x13, 0, 1, 2), code: "unknown_frame_kind", at: 1 },
  { name: "frame kind 15", bytes: frameBytes(0x1f, 0), code: "unknown_frame_kind", at: 1 },
  // unsupported_version
  {
    name: "protocol version 0",
    bytes: frameBytes(0x00, 0x00, 3, 0, 0, 0, 0, 1),
    code: "unsupported_version",
    at: 1,
  },
  {
    name: "protocol version 2",
    bytes: frameBytes(0x21, 0x00, 1, 0, 0),
    code: "unsupported_version",
    at: 1,
  },
  {
    name: "protocol version 15 with a 2-byte channel",
    bytes: frameBytes(0xf2, 0x80, 0x01),
    code: "unsupported_version",
    at: 1,
  },
  // frame_too_large
  {
    name: "a length prefix of 161 with maxFrameSize 160",
    bytes: [0xa1, 0x01],
    code: "frame_too_large",
    at: 0,
    options: { maxFrameSize: 160 },
  },
  {
    name: "a length prefix of 2^21-1 with the default maxFrameSize",
    bytes: [0xff, 0xff, 0x7f],
    code: "frame_too_large",
    at: 0,
  },
  // invalid_value
  {
    name: "a NaN float32",
    bytes: msg(5, 0, 0x7f, 0xc0, 0, 0, ...float64Bytes(1)),
    code: "invalid_value",
    at: 5,
  },
  {
    name: "a NaN float64",
    bytes: msg(5, 0, ...float32Bytes(1.5), 0x7f, 0xf8, 0, 0, 0, 0, 0, 0),
    code: "invalid_value",
    at: 9,
  },
  {
    name: "an infinite float64",
    bytes: msg(5, 0, ...float32Bytes(1.5), ...float64Bytes(-Infinity)),
    code: "invalid_value",
    at: 9,
  },
  {
    name: "a string length of 65536",
    bytes: msg(2, 0, 0x80, 0x80, 0x04),
    code: "invalid_value",
    at: 5,
  },
  {
    name: "a bytes length of 65536",
    bytes: msg(1, 0, 0x80, 0, 0, 0x80, 0x80, 0x04),
    code: "invalid_value",
    at: 8,
  },
  // truncated
  { name: "a varuint cut short", bytes: msg(4, 0, 0x80), code: "truncated", at: 6 },
  {
    name: "a uint32 cut short in a control frame",
    bytes: frameBytes(0x10, 0x00, 3, 0, 0, 0),
    code: "truncated",
    at: 5,
  },
  { name: "a string longer than its frame", bytes: msg(2, 0, 5, 0x61), code: "truncated", at: 6 },
  { name: "a missing bit section", bytes: msg(3, 0), code: "truncated", at: 5 },
  {
    name: "a frame without schema code and version",
    bytes: frameBytes(0x11, 0x00),
    code: "truncated",
    at: 3,
  },
  {
    name: "a frame with a code but no version",
    bytes: frameBytes(0x10, 0x00, 3),
    code: "truncated",
    at: 3,
  },
  { name: "a frame of a header only", bytes: frameBytes(0x11), code: "truncated", at: 2 },
];

Deno.test("FrameDecoder refuses each kind of bad input with its own code and offset, after the frames before it", () => {
  const seen = new Set<ProtocolErrorCode>();
  for (const f of FAULTS) {
    const stream = concat(GOOD.bytes, f.bytes, TAIL.bytes);
    const variants: FrameDecoderOptions[] = f.options?.channels === undefined
      ? [{ schemas, ...f.options }, { schemas, channels: OPEN, ...f.options }]
      : [{ schemas, ...f.options }];
    for (const options of variants) {
      for (const [how, chunks] of chunkings(stream)) {
        const what = `${f.name}, ${how}${options.channels ? ", with channels" : ""}`;
        const decoder = new FrameDecoder(options);
        const { frames, error } = feed(decoder, chunks);
        assert.deepEqual(frames, GOOD.frames, what);
        assert.ok(error !== undefined, `${what}: no error`);
        assert.equal(error.code, f.code, `${what}: ${error.message}`);
        assert.equal(error.offset, GOOD.bytes.length + f.at, `${what}: ${error.message}`);
        assert.equal(decoder.error, error, what);
        assert.throws(() => [...decoder.push(TAIL.bytes)], (e) => e === error);
      }
    }
    seen.add(f.code);
  }
  // Every code a frame decoder can raise is covered above (the session raises the last two).
  const session = ["protocol_violation", "limit_exceeded"];
  assert.deepEqual([...seen].sort(), CODES.filter((c) => !session.includes(c)).sort());
});

Deno.test("FrameDecoder rejects a length prefix above maxFrameSize before buffering", () => {
  const ping = encodeFrame(Ping, { timestamp: 1 });
  const decoder = new FrameDecoder({ maxFrameSize: 4096 });
  assert.equal([...decoder.push(ping)].length, 1);
  // 4097 is 0x81 0x20: the first byte alone cannot tell, the second settles it.
  assert.deepEqual([...decoder.push(Uint8Array.of(0x81))], []);
  assert.equal(decoder.buffered, 1);
  assert.throws(() => [...decoder.push(Uint8Array.of(0x20))], fault("frame_too_large", 9));
  assert.ok(decoder.buffered <= 2, `buffered ${decoder.buffered}`);

  // Exactly the limit is accepted, and waits for its body.
  const atLimit = new FrameDecoder({ maxFrameSize: 4096 });
  assert.deepEqual([...atLimit.push(Uint8Array.of(0x80, 0x20))], []);
  assert.equal(atLimit.buffered, 2);

  // A prefix followed by body bytes in the same chunk: refused, none of the body kept.
  const withBody = new FrameDecoder({ maxFrameSize: 4096 });
  assert.throws(
    () => [...withBody.push(concat([0x81, 0x20], pattern(1000)))],
    fault("frame_too_large", 0),
  );
  assert.ok(withBody.buffered <= 2, `buffered ${withBody.buffered}`);

  // The largest 4-byte prefix under the default limit, and one past the 16 MiB ceiling.
  assert.throws(
    () => [...new FrameDecoder().push(Uint8Array.of(0xff, 0xff, 0xff, 0x7f))],
    fault("frame_too_large", 0),
  );
  const ceiling = new FrameDecoder({ maxFrameSize: MAX_FRAME_SIZE_LIMIT });
  assert.throws(
    () => [...ceiling.push(Uint8Array.of(0x81, 0x80, 0x80, 0x08))],
    fault("frame_too_large", 0),
  );
});

Deno.test("FrameDecoder rethrows its first error on every later push and exposes it as error", () => {
  const decoder = new FrameDecoder();
  assert.equal(decoder.error, undefined);
  const ping = encodeFrame(Ping, { timestamp: 1 });
  let first: unknown;
  assert.throws(
    () => [...decoder.push(concat(ping, [0x00], ping))],
    (e) => {
      first = e;
      return e instanceof ProtocolError && e.code === "empty_frame" && e.offset === 9;
    },
  );
  assert.ok(first instanceof ProtocolError);
  assert.equal(decoder.error, first);
  for (const chunk of [ping, new Uint8Array(0), Uint8Array.of(0xff, 0xff)]) {
    assert.throws(() => [...decoder.push(chunk)], (e) => e === first);
    assert.throws(() => decoder.push(chunk).next(), (e) => e === first);
  }
  assert.equal(decoder.error, first);
});

Deno.test("FrameDecoder reports in buffered the bytes it holds of an unfinished frame", () => {
  const big = encodeRawFrame(pattern(200), { channel: 1 }); // 2 + 2 + 200 = 204 bytes
  const ping = encodeFrame(Ping, { timestamp: 2 }); // 9 bytes
  const decoder = new FrameDecoder();
  const push = (chunk: Uint8Array) => [...decoder.push(chunk)].map((f) => f.type);
  assert.equal(decoder.buffered, 0);
  assert.deepEqual(push(big.subarray(0, 1)), []);
  assert.equal(decoder.buffered, 1);
  assert.deepEqual(push(big.subarray(1, 2)), []);
  assert.equal(decoder.buffered, 2);
  assert.deepEqual(push(big.subarray(2, 50)), []);
  assert.equal(decoder.buffered, 50);
  assert.deepEqual(push(new Uint8Array(0)), []);
  assert.equal(decoder.buffered, 50);
  assert.deepEqual(push(big.subarray(50, 203)), []);
  assert.equal(decoder.buffered, 203);
  assert.deepEqual(push(concat(big.subarray(203), ping.subarray(0, 3))), ["raw"]);
  assert.equal(decoder.buffered, 3);
  assert.deepEqual(push(concat(ping.subarray(3), ping, ping.subarray(0, 1))), [
    "control",
    "control",
  ]);
  assert.equal(decoder.buffered, 1);
  assert.deepEqual(push(ping.subarray(1)), ["control"]);
  assert.equal(decoder.buffered, 0);
  assert.equal(decoder.offset, big.length + 3 * ping.length);
});

Deno.test("FrameDecoder refuses a channel until it is opened and again once it is closed", () => {
  const channels = new ChannelTable();
  const on5 = encodeFrame(Ping, { timestamp: 5 }, { channel: 5 }).slice();
  const on0 = encodeFrame(Ping, { timestamp: 0 }).slice();

  const before = new FrameDecoder({ channels });
  assert.equal([...before.push(on0)].length, 1); // the root channel is always open
  assert.throws(() => [...before.push(on5)], fault("unknown_channel", on0.length + 2));

  channels.open(5, "/five");
  const decoder = new FrameDecoder({ channels });
  assert.deepEqual([...decoder.push(concat(on0, on5))].map((f) => f.channel), [0, 5]);
  channels.close(5);
  assert.throws(
    () => [...decoder.push(on5)],
    fault("unknown_channel", on0.length + on5.length + 2),
  );

  // Closing a channel while iterating refuses its next frame in the same chunk.
  channels.open(5, "/five");
  const live = new FrameDecoder({ channels });
  const seen: number[] = [];
  assert.throws(() => {
    for (const frame of live.push(concat(on5, on0, on5))) {
      seen.push(frame.channel);
      if (frame.channel === 5) channels.close(5);
    }
  }, fault("unknown_channel", on5.length + on0.length + 2));
  assert.deepEqual(seen, [5, 0]);
});

Deno.test("FrameDecoder yields UnknownSchemaFrame for unregistered schemas when asked to keep them", () => {
  const { bytes, frames } = build([message(Name, { name: "n" }, 1)]);
  const unknownMessage = msg(42, 3, 9, 8, 7);
  const unknownControl = frameBytes(0x10, 0x80, 0x01, 250, 1);
  const stream = concat(bytes, unknownMessage, unknownControl);
  for (const [how, chunks] of chunkings(stream)) {
    const decoder = new FrameDecoder({ schemas, unknownSchemas: "keep" });
    const outcome = feed(decoder, chunks);
    assert.equal(outcome.error, undefined, how);
    assert.deepEqual(outcome.frames, [
      ...frames,
      {
        type: "unknown",
        kind: "message",
        channel: 0,
        code: 42,
        version: 3,
        body: Uint8Array.of(9, 8, 7),
        offset: bytes.length,
        size: unknownMessage.length,
      },
      {
        type: "unknown",
        kind: "control",
        channel: 128,
        code: 250,
        version: 1,
        body: new Uint8Array(0),
        offset: bytes.length + unknownMessage.length,
        size: unknownControl.length,
      },
    ], how);
  }
});

// --- Randomized ---

/** mulberry32: a tiny seeded PRNG, so that every run sees the same inputs. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;

const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)]!;

function randomString(rng: Rng): string {
  if (rng() < 0.15) return "a".repeat(int(rng, 300)); // long: a 2-byte length
  let s = "";
  const count = int(rng, 12);
  for (let i = 0; i < count; i++) {
    const r = int(rng, 10);
    const cp = r < 6
      ? 0x20 + int(rng, 0x5f)
      : r < 8
      ? 0x80 + int(rng, 0x780)
      : r < 9
      ? pick(rng, [0x800 + int(rng, 0xd000), 0xe000 + int(rng, 0x2000)])
      : 0x10000 + int(rng, 0x100000);
    s += String.fromCodePoint(cp);
  }
  return s;
}

function randomBytes(rng: Rng, max: number): Uint8Array {
  return Uint8Array.from({ length: int(rng, max + 1) }, () => int(rng, 256));
}

function randomVaruint(rng: Rng): number {
  return Math.floor(rng() * 2 ** int(rng, 33));
}

const CHANNELS = [0, 0, 1, 127, 128, 300, 65535];

function randomSpec(rng: Rng): Spec {
  const channel = pick(rng, CHANNELS);
  switch (int(rng, 10)) {
    case 0:
    case 1:
      return raw(randomBytes(rng, rng() < 0.2 ? 300 : 20), channel);
    case 2:
      return control(pick(rng, [Ping, Pong]), { timestamp: int(rng, 2 ** 32) }, channel);
    case 3: {
      const value: ValueOf<typeof Event> = { event: randomVaruint(rng), payloadType: int(rng, 5) };
      if (rng() < 0.5) value.payload = randomBytes(rng, 40);
      if (rng() < 0.5) value.ackId = randomVaruint(rng);
      return control(Event, value, channel);
    }
    case 4: {
      const value: ValueOf<typeof Connect> = {
        namespace: randomString(rng),
        channel: int(rng, 65536),
      };
      if (rng() < 0.5) value.protocolVersion = 1;
      if (rng() < 0.5) value.auth = randomBytes(rng, 30);
      if (rng() < 0.3) value.sessionId = randomString(rng);
      return control(Connect, value, channel);
    }
    case 5: {
      const value: ValueOf<typeof Disconnect> = {};
      if (rng() < 0.5) value.reason = randomString(rng);
      return control(Disconnect, value, channel);
    }
    case 6:
    case 7: {
      const value: ValueOf<typeof Chat> = { from: randomString(rng), text: randomString(rng) };
      if (rng() < 0.4) value.attachment = randomBytes(rng, rng() < 0.2 ? 400 : 16);
      if (rng() < 0.5) value.urgent = rng() < 0.5;
      return message(Chat, value, channel);
    }
    case 8: {
      const value: ValueOf<typeof State> = {
        id: int(rng, 65536),
        x: int(rng, 65536) - 32768,
        y: int(rng, 2 ** 32) - 2 ** 31,
        hp: int(rng, 256),
        dx: int(rng, 256) - 128,
        score: int(rng, 2 ** 32),
        n: randomVaruint(rng),
        d: int(rng, 2 ** 32) - 2 ** 31,
        f: Math.fround((rng() - 0.5) * 2 ** int(rng, 100)),
        alive: rng() < 0.5,
      };
      if (rng() < 0.5) value.g = (rng() - 0.5) * 10 ** int(rng, 300);
      if (rng() < 0.5) value.tag = randomBytes(rng, 8);
      if (rng() < 0.5) value.label = randomString(rng);
      return message(State, value, channel);
    }
    default: {
      if (rng() < 0.5) {
        const value: ValueOf<typeof Flags> = { a: rng() < 0.5 };
        if (rng() < 0.5) value.b = rng() < 0.5;
        return message(Flags, value, channel);
      }
      const value = Object.fromEntries(
        Array.from({ length: 9 }, (_, i) => [`b${i}`, rng() < 0.5]),
      );
      return message(NineBools, value, channel);
    }
  }
}

function randomStream(rng: Rng): Stream {
  return build(Array.from({ length: 1 + int(rng, 12) }, () => randomSpec(rng)));
}

function mutate(rng: Rng, bytes: Uint8Array): Uint8Array {
  const out = [...bytes];
  const count = 1 + int(rng, 3);
  for (let m = 0; m < count; m++) {
    const at = int(rng, out.length + 1);
    switch (int(rng, 6)) {
      case 0: // flip a bit
        if (at < out.length) out[at] = out[at]! ^ (1 << int(rng, 8));
        break;
      case 1: // insert a byte
        out.splice(at, 0, int(rng, 256));
        break;
      case 2: // delete a byte
        out.splice(at, 1);
        break;
      case 3: // truncate
        out.length = at;
        break;
      case 4: // overwrite a byte
        if (at < out.length) out[at] = int(rng, 256);
        break;
      default: // insert a copy of a slice
        out.splice(int(rng, out.length + 1), 0, ...out.slice(at, at + 1 + int(rng, 20)));
    }
  }
  return Uint8Array.from(out);
}

/** Random chunk boundaries: all at once, bytewise, small or large chunks. */
function randomChunks(rng: Rng, bytes: Uint8Array): Uint8Array[] {
  const mode = int(rng, 4);
  if (mode === 0) return [bytes];
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const size = mode === 1 ? 1 : mode === 2 ? 1 + int(rng, 16) : 1 + int(rng, 600);
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

/** Checks what any decoder must hold to, whatever the input; returns a comparable summary. */
function checkOutcome(
  bytes: Uint8Array,
  decoder: FrameDecoder,
  outcome: Outcome,
  options: FrameDecoderOptions,
): unknown {
  const { frames, error } = outcome;
  let end = 0;
  for (const frame of frames) {
    assert.equal(frame.offset, end, "frames are contiguous from the start of the stream");
    assert.ok(frame.size >= 3, `a frame of ${frame.size} bytes`);
    end += frame.size;
    // decodeFrame agrees with the stream decoder on each frame's bytes.
    const alone = decodeFrame(bytes.subarray(frame.offset, end), options);
    assert.deepEqual(alone, { ...frame, offset: 0 });
  }
  assert.ok(end <= bytes.length);
  assert.ok(frames.length <= Math.floor(bytes.length / 3));
  if (error === undefined) {
    // Everything after the last frame is the start of an unfinished frame, held in full.
    assert.equal(decoder.buffered, bytes.length - end);
    return { frames };
  }
  assert.ok(error instanceof ProtocolError);
  assert.ok((CODES as readonly string[]).includes(error.code), error.code);
  // protocol_violation would mean some other exception escaped from the frame code.
  assert.notEqual(error.code, "protocol_violation", error.message);
  assert.equal(decoder.error, error);
  const offset = error.offset;
  assert.ok(
    offset !== undefined && Number.isInteger(offset) && offset >= end && offset <= bytes.length,
    `offset ${offset} outside ${end}..${bytes.length}: ${error.message}`,
  );
  return { frames, code: error.code, offset };
}

const ALL_OPEN = new ChannelTable();
for (const channel of CHANNELS) {
  if (channel !== 0 && !ALL_OPEN.has(channel)) ALL_OPEN.open(channel, `/${channel}`);
}

const RANDOM_OPTIONS: FrameDecoderOptions[] = [
  { schemas },
  { schemas, maxFrameSize: 4096 },
  { schemas, unknownSchemas: "keep", channels: ALL_OPEN },
];

Deno.test("FrameDecoder only ever throws ProtocolError on random and mutated streams, whatever the chunking", () => {
  const started = performance.now();
  let decodes = 0;
  let faults = 0;
  for (const seed of [1, 2, 3]) {
    const rng = mulberry32(seed);
    for (let i = 0; i < 1000; i++) {
      const options = RANDOM_OPTIONS[i % RANDOM_OPTIONS.length]!;

      // (a) Random bytes: every chunking gives the same frames and the same error.
      const noise = randomBytes(rng, pick(rng, [8, 64, 300]));
      if (rng() < 0.5 && noise.length > 2) {
        // Make the start look like a frame more often.
        noise[0] = int(rng, noise.length);
        noise[1] = pick(rng, [0x10, 0x11, 0x12, int(rng, 256)]);
      }
      let summary: unknown;
      for (let c = 0; c < 3; c++) {
        const decoder = new FrameDecoder(options);
        const outcome = feed(decoder, randomChunks(rng, noise));
        const s = checkOutcome(noise, decoder, outcome, options);
        if (c === 0) summary = s;
        else assert.deepEqual(s, summary, `seed ${seed}, iteration ${i}, noise`);
        decodes++;
      }

      // (b) A valid stream decodes to its frames; a mutated one behaves as above.
      const { bytes, frames } = randomStream(rng);
      const decoder = new FrameDecoder(options);
      const outcome = feed(decoder, randomChunks(rng, bytes));
      assert.equal(outcome.error, undefined, `seed ${seed}, iteration ${i}`);
      assert.deepEqual(outcome.frames, frames, `seed ${seed}, iteration ${i}`);
      assert.equal(decoder.buffered, 0);
      decodes++;

      const bad = mutate(rng, bytes);
      for (let c = 0; c < 3; c++) {
        const decoder = new FrameDecoder(options);
        const outcome = feed(decoder, randomChunks(rng, bad));
        const s = checkOutcome(bad, decoder, outcome, options);
        if (c === 0) summary = s;
        else assert.deepEqual(s, summary, `seed ${seed}, iteration ${i}, mutated`);
        if (outcome.error !== undefined) faults++;
        decodes++;
      }
    }
  }
  const elapsed = performance.now() - started;
  assert.ok(faults > 2000, `only ${faults} faults: the mutations are too gentle`);
  assert.ok(elapsed < 10_000, `${decodes} decodes took ${elapsed.toFixed(0)} ms`);
});

// --- Loopback TCP ---

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let done = 0; done < data.length;) done += await conn.write(data.subarray(done));
}

Deno.test("FrameDecoder decodes frames sent over loopback TCP in many small writes", async () => {
  const rng = mulberry32(42);
  const { bytes, frames } = build(Array.from({ length: 400 }, () => randomSpec(rng)));
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using server = await accepted;
  client.setNoDelay(true);

  const send = async () => {
    let writes = 0;
    for (let at = 0; at < bytes.length; writes++) {
      const size = 1 + int(rng, 48);
      await writeAll(client, bytes.subarray(at, at + size));
      at += size;
    }
    await client.closeWrite();
    return writes;
  };
  const receive = async () => {
    const buffer = new Uint8Array(256); // reused for every read
    const decoder = new FrameDecoder({ schemas });
    const got: Frame[] = [];
    let reads = 0;
    for (let n: number | null; (n = await server.read(buffer)) !== null; reads++) {
      for (const frame of decoder.push(buffer.subarray(0, n))) got.push(frame);
    }
    assert.equal(decoder.buffered, 0);
    assert.equal(decoder.offset, bytes.length);
    return { got, reads };
  };
  const [writes, { got, reads }] = await Promise.all([send(), receive()]);
  assert.ok(writes > 500, `${writes} writes`);
  assert.ok(reads >= bytes.length / 256, `${reads} reads`);
  assert.equal(got.length, frames.length);
  assert.deepEqual(got, frames);
});

Deno.test("FrameDecoder over loopback TCP refuses an oversized length prefix as soon as it arrives", async () => {
  const good = build([
    control(Ping, { timestamp: 1 }),
    message(Chat, { from: "a", text: "b" }, 1),
    raw(pattern(200), 2),
  ]);
  const prefix = [0x80, 0x80, 0x40]; // 1 MiB, far above the server's 4096
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using server = await accepted;

  const clientSide = async () => {
    await writeAll(client, good.bytes);
    await writeAll(client, Uint8Array.from(prefix));
    // No body follows: a decoder that waited for it would see end of stream instead.
    await client.closeWrite();
    const decoder = new FrameDecoder();
    const replies: Frame[] = [];
    const buffer = new Uint8Array(256);
    for (let n: number | null; (n = await client.read(buffer)) !== null;) {
      for (const frame of decoder.push(buffer.subarray(0, n))) replies.push(frame);
    }
    return replies;
  };
  const serverSide = async () => {
    const decoder = new FrameDecoder({ schemas, maxFrameSize: 4096 });
    const buffer = new Uint8Array(256);
    const frames: Frame[] = [];
    let received = 0;
    try {
      for (let n: number | null; (n = await server.read(buffer)) !== null;) {
        received += n;
        try {
          for (const frame of decoder.push(buffer.subarray(0, n))) frames.push(frame);
        } catch (error) {
          const reply = encodeFrame(ErrorMessage, {
            code: ErrorCode.ProtocolViolation,
            message: String(error),
          });
          await writeAll(server, reply);
          return { frames, error, received };
        }
      }
      return { frames, error: undefined, received };
    } finally {
      await server.closeWrite();
    }
  };
  const [replies, { frames, error, received }] = await Promise.all([clientSide(), serverSide()]);
  assert.deepEqual(frames, good.frames);
  assert.ok(error !== undefined, "the server read to the end of the stream without an error");
  assert.ok(fault("frame_too_large", good.bytes.length)(error));
  assert.equal(received, good.bytes.length + prefix.length);
  assert.equal(replies.length, 1);
  const reply = replies[0]!;
  assert.ok(reply.type === "control" && reply.schema === ErrorMessage);
  assert.equal(reply.value.code, ErrorCode.ProtocolViolation);
});

Deno.test("FrameDecoder keeps the unread rest of a chunk when an iteration stops early", () => {
  const stream = build(MIXED);
  const decoder = new FrameDecoder({ schemas });
  const chunk = stream.bytes.slice();
  const got: Frame[] = [];
  for (const frame of decoder.push(chunk)) {
    got.push(frame);
    break; // a handler that stops after the first frame
  }
  chunk.fill(0xff); // the caller reuses its read buffer
  assert.ok(decoder.buffered > 0);
  for (const frame of decoder.push(new Uint8Array(0))) got.push(frame);
  assert.deepEqual(got.map((frame) => frame.offset), stream.frames.map((frame) => frame.offset));
  assert.equal(decoder.buffered, 0);
  assert.equal(decoder.offset, stream.bytes.length);
});
