import assert from "node:assert/strict";
import {
  BinaryReader,
  BinaryWriter,
  decodeFrame,
  defineSchema,
  encodeFrame,
  type FieldType,
  FLOAT32_MAX,
  RADIANS_STEP,
  readMessage,
  type Schema,
  SchemaRegistry,
  SINGLE_STEP,
  writeFrame,
  writeMessage,
} from "../protocol/mod.ts";
import { mulberry32 } from "./prng.ts";

type AnySchema = Schema<Record<string, unknown>>;
type Value = Record<string, unknown>;
type ErrorClass = typeof TypeError | typeof RangeError;

const TWO_PI = 2 * Math.PI;
/** Room for a maximum-length string or bytes field plus the frame's header bytes. */
const BIG_FRAME = 70_000;

/** A schema `PlayerState` with a required uint8 `id` (field 0) and a field `x` (field 1). */
function probe(type: FieldType, optional = false): AnySchema {
  return defineSchema({
    name: "PlayerState",
    code: 10,
    version: 0,
    fields: { id: { id: 0, type: "uint8" }, x: { id: 1, type, optional } },
  }) as unknown as AnySchema;
}

/** The body the reference codec writes. */
function referenceBody(schema: AnySchema, value: Value): Uint8Array {
  const writer = new BinaryWriter(16);
  writeMessage(writer, schema, value);
  return writer.toBytes();
}

/**
 * Encodes `value` through the compiled codec, the reference codec and a frame; checks that all
 * three agree and decodes it back through each. Returns the decoded value and the body.
 */
function roundTrip(
  schema: AnySchema,
  value: Value,
  maxFrameSize?: number,
): { decoded: Value; body: Uint8Array } {
  const writer = new BinaryWriter(16);
  schema.codec.write(writer, value);
  const body = writer.toBytes();
  assert.deepEqual(body, referenceBody(schema, value), "compiled and reference bodies differ");

  const decoded = schema.codec.read(body, 0, body.length, 0);
  assert.deepEqual(readMessage(new BinaryReader(body), schema), decoded);

  const options = maxFrameSize === undefined ? {} : { maxFrameSize };
  const frameBytes = encodeFrame(schema, value, options);
  assert.deepEqual(frameBytes.subarray(frameBytes.length - body.length), body);
  const frame = decodeFrame(frameBytes, { schemas: new SchemaRegistry([schema]), ...options });
  assert.equal(frame.type, "message");
  assert.ok(frame.type === "message");
  assert.equal(frame.schema, schema);
  assert.equal(frame.size, frameBytes.length);
  assert.deepEqual(frame.value, decoded);
  return { decoded, body };
}

/** Round trips `{ id: 7, x: input }` and checks that `x` comes back as `expected`. */
function assertRoundTrip(schema: AnySchema, input: unknown, expected: unknown): Uint8Array {
  const { decoded, body } = roundTrip(schema, { id: 7, x: input }, BIG_FRAME);
  assert.deepEqual(decoded, { id: 7, x: expected }, `round trip of ${String(input)}`);
  return body;
}

/**
 * Checks that encoding `value` throws exactly `errorClass`, naming `PlayerState.<field>`, through
 * encodeFrame, the compiled codec and the reference codec.
 */
function assertEncodeThrows(
  schema: AnySchema,
  value: unknown,
  errorClass: ErrorClass,
  field = "x",
): void {
  const message = new RegExp(`PlayerState\\.${field}\\b`);
  const attempts: [string, () => void][] = [
    ["encodeFrame", () => encodeFrame(schema, value as Value, { maxFrameSize: BIG_FRAME })],
    ["codec.write", () => schema.codec.write(new BinaryWriter(), value as Value)],
    ["writeMessage", () => writeMessage(new BinaryWriter(), schema, value as Value)],
  ];
  for (const [, attempt] of attempts) {
    assert.throws(attempt, errorClass);
    assert.throws(attempt, { name: errorClass.name, message });
    assert.throws(
      attempt,
      (error: unknown) => Object.getPrototypeOf(error) === errorClass.prototype,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Integers

interface IntegerCase {
  type: FieldType;
  min: number;
  max: number;
  /** The body bytes after the id byte, for min and for max. */
  minBytes: number[];
  maxBytes: number[];
}

const INTEGER_CASES: IntegerCase[] = [
  { type: "int8", min: -128, max: 127, minBytes: [0x80], maxBytes: [0x7f] },
  { type: "uint8", min: 0, max: 255, minBytes: [0x00], maxBytes: [0xff] },
  { type: "int16", min: -32768, max: 32767, minBytes: [0x80, 0x00], maxBytes: [0x7f, 0xff] },
  { type: "uint16", min: 0, max: 65535, minBytes: [0x00, 0x00], maxBytes: [0xff, 0xff] },
  {
    type: "int32",
    min: -2147483648,
    max: 2147483647,
    minBytes: [0x80, 0, 0, 0],
    maxBytes: [0x7f, 0xff, 0xff, 0xff],
  },
  {
    type: "uint32",
    min: 0,
    max: 4294967295,
    minBytes: [0, 0, 0, 0],
    maxBytes: [0xff, 0xff, 0xff, 0xff],
  },
  {
    type: "varuint",
    min: 0,
    max: 4294967295,
    minBytes: [0],
    maxBytes: [0xff, 0xff, 0xff, 0xff, 0x0f],
  },
  {
    type: "varint",
    min: -2147483648,
    max: 2147483647,
    minBytes: [0xff, 0xff, 0xff, 0xff, 0x0f],
    maxBytes: [0xfe, 0xff, 0xff, 0xff, 0x0f],
  },
];

for (const { type, min, max, minBytes, maxBytes } of INTEGER_CASES) {
  Deno.test(`${type} round trips its range edges ${min} and ${max} and values between`, () => {
    const schema = probe(type);
    assert.deepEqual([...assertRoundTrip(schema, min, min).subarray(1)], minBytes);
    assert.deepEqual([...assertRoundTrip(schema, max, max).subarray(1)], maxBytes);
    for (const value of [min + 1, max - 1, 0, 1, Math.floor((min + max) / 2)]) {
      assertRoundTrip(schema, value, value);
    }
    assertRoundTrip(schema, -0, 0);
  });

  Deno.test(`${type} refuses one past each edge with a RangeError naming the field`, () => {
    const schema = probe(type);
    assertEncodeThrows(schema, { id: 1, x: min - 1 }, RangeError);
    assertEncodeThrows(schema, { id: 1, x: max + 1 }, RangeError);
    assertEncodeThrows(schema, { id: 1, x: min - 0.5 }, RangeError);
    assertEncodeThrows(schema, { id: 1, x: max + 0.5 }, RangeError);
    assertEncodeThrows(schema, { id: 1, x: 2 ** 53 }, RangeError);
    assertEncodeThrows(schema, { id: 1, x: -(2 ** 53) }, RangeError);
  });

  Deno.test(`${type} refuses fractions, NaN and infinities with a RangeError`, () => {
    const schema = probe(type);
    for (const bad of [0.5, max - 0.5, 1e-9, NaN, Infinity, -Infinity, Number.MIN_VALUE]) {
      assertEncodeThrows(schema, { id: 1, x: bad }, RangeError);
    }
  });

  Deno.test(`${type} refuses non-numbers, bigints and null with a TypeError`, () => {
    const schema = probe(type);
    for (const bad of ["1", 1n, true, null, {}, [1], new Number(1)]) {
      assertEncodeThrows(schema, { id: 1, x: bad }, TypeError);
    }
  });
}

Deno.test("varuint takes 1 to 5 bytes, switching at each power of 128", () => {
  const schema = probe("varuint");
  const sizes: [number, number][] = [
    [0, 1],
    [127, 1],
    [128, 2],
    [16383, 2],
    [16384, 3],
    [2097151, 3],
    [2097152, 4],
    [268435455, 4],
    [268435456, 5],
    [4294967295, 5],
  ];
  for (const [value, size] of sizes) {
    const body = assertRoundTrip(schema, value, value);
    assert.equal(body.length - 1, size, `varuint ${value}`);
  }
  assert.deepEqual([...assertRoundTrip(schema, 300, 300).subarray(1)], [0xac, 0x02]);
  assert.deepEqual([...assertRoundTrip(schema, 128, 128).subarray(1)], [0x80, 0x01]);
});

Deno.test("varint zigzags small magnitudes of either sign into one byte", () => {
  const schema = probe("varint");
  const cases: [number, number[]][] = [
    [0, [0]],
    [-1, [1]],
    [1, [2]],
    [-64, [127]],
    [63, [126]],
    [64, [0x80, 0x01]],
    [-65, [0x81, 0x01]],
  ];
  for (const [value, bytes] of cases) {
    assert.deepEqual([...assertRoundTrip(schema, value, value).subarray(1)], bytes, `${value}`);
  }
});

// ---------------------------------------------------------------------------------------------
// bool

Deno.test("bool round trips as one bit and no bytes", () => {
  const schema = probe("bool");
  assert.deepEqual([...assertRoundTrip(schema, true, true)], [0x80, 7]);
  assert.deepEqual([...assertRoundTrip(schema, false, false)], [0x00, 7]);
});

Deno.test("bool refuses anything but true and false with a TypeError", () => {
  const schema = probe("bool");
  for (const bad of [0, 1, "true", null, 1n, new Boolean(true), {}]) {
    assertEncodeThrows(schema, { id: 1, x: bad }, TypeError);
  }
});

// ---------------------------------------------------------------------------------------------
// Floats

Deno.test("float32 round trips its largest finite values and keeps Math.fround of others", () => {
  const schema = probe("float32");
  for (const value of [FLOAT32_MAX, -FLOAT32_MAX, 0, 2 ** -149, -(2 ** -149), 2 ** -126, 1, -1.5]) {
    assertRoundTrip(schema, value, value);
  }
  for (const value of [0.1, Math.PI, -1e30, 123456789, 1e-40, 1e-50, Number.MIN_VALUE]) {
    assertRoundTrip(schema, value, Math.fround(value));
  }
  const { decoded } = roundTrip(schema, { id: 1, x: -0 });
  assert.ok(Object.is(decoded.x, -0), "float32 keeps the sign of zero");
  assert.deepEqual(
    [...assertRoundTrip(schema, 1, 1).subarray(1)],
    [0x3f, 0x80, 0x00, 0x00],
    "big-endian IEEE 754",
  );
});

Deno.test("float32 decodes random values as exactly Math.fround of the value", () => {
  const schema = probe("float32");
  const next = mulberry32(0xf10a7);
  const view = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < 1000; i++) {
    const value = (next() * 2 - 1) * 2 ** (next() * 250 - 125);
    const { decoded } = roundTrip(schema, { id: 1, x: value });
    assert.equal(decoded.x, Math.fround(value));
    // Every finite float32 bit pattern survives exactly.
    view.setUint32(0, Math.floor(next() * 2 ** 32));
    const exact = view.getFloat32(0);
    if (!Number.isFinite(exact)) continue;
    assert.ok(Object.is(roundTrip(schema, { id: 1, x: exact }).decoded.x, exact));
  }
});

Deno.test("float32 refuses values beyond its largest finite value and non-finite numbers", () => {
  const schema = probe("float32");
  // The next double above FLOAT32_MAX (doubles in [2^127, 2^128) are 2^75 apart).
  const justAbove = FLOAT32_MAX + 2 ** 75;
  assert.ok(justAbove > FLOAT32_MAX);
  for (const bad of [justAbove, -justAbove, 1e39, Number.MAX_VALUE, NaN, Infinity, -Infinity]) {
    assertEncodeThrows(schema, { id: 1, x: bad }, RangeError);
  }
  for (const bad of ["1.5", 1n, null, false, {}]) {
    assertEncodeThrows(schema, { id: 1, x: bad }, TypeError);
  }
});

Deno.test("float64 round trips every finite double exactly", () => {
  const schema = probe("float64");
  const values = [
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    Number.MIN_VALUE,
    -Number.MIN_VALUE,
    0.1,
    Math.PI,
    2 ** 53 + 2,
    -1e-300,
  ];
  for (const value of values) assertRoundTrip(schema, value, value);
  assert.ok(Object.is(roundTrip(schema, { id: 1, x: -0 }).decoded.x, -0));
  const next = mulberry32(0xf64);
  const view = new DataView(new ArrayBuffer(8));
  for (let i = 0; i < 1000; i++) {
    view.setUint32(0, Math.floor(next() * 2 ** 32));
    view.setUint32(4, Math.floor(next() * 2 ** 32));
    const value = view.getFloat64(0);
    if (!Number.isFinite(value)) continue;
    assert.ok(Object.is(roundTrip(schema, { id: 1, x: value }).decoded.x, value));
  }
});

Deno.test("float64 refuses NaN and infinities with a RangeError and non-numbers with a TypeError", () => {
  const schema = probe("float64");
  for (const bad of [NaN, Infinity, -Infinity]) {
    assertEncodeThrows(schema, { id: 1, x: bad }, RangeError);
  }
  for (const bad of ["0", 0n, null, true, [0]]) {
    assertEncodeThrows(schema, { id: 1, x: bad }, TypeError);
  }
});

// ---------------------------------------------------------------------------------------------
// single

Deno.test("single round trips 0 and 1 exactly and takes one byte", () => {
  const schema = probe("single");
  assert.deepEqual([...assertRoundTrip(schema, 0, 0)], [7, 0]);
  assert.deepEqual([...assertRoundTrip(schema, 1, 1)], [7, 255]);
  assertRoundTrip(schema, -0, 0);
  for (let k = 0; k <= 255; k++) assertRoundTrip(schema, k / 255, k / 255);
});

Deno.test("single decodes within half a step of the encoded value", () => {
  const schema = probe("single");
  const next = mulberry32(0x5167);
  const values = [0.5, SINGLE_STEP / 2, 1 - SINGLE_STEP / 2, Number.MIN_VALUE, 1 - Number.EPSILON];
  for (let i = 0; i < 3000; i++) values.push(next());
  for (const value of values) {
    const x = roundTrip(schema, { id: 1, x: value }).decoded.x as number;
    assert.ok(
      Math.abs(x - value) <= SINGLE_STEP / 2 + 1e-12,
      `single ${value} decoded as ${x}, more than half a step away`,
    );
    assert.ok(x >= 0 && x <= 1);
    // Decoded values are steps, and re-encoding one is stable.
    assert.equal(x, Math.round(x * 255) / 255);
    assert.equal(roundTrip(schema, { id: 1, x }).decoded.x, x);
  }
});

Deno.test("single refuses values outside 0..1 with a RangeError", () => {
  const schema = probe("single");
  for (const bad of [-Number.MIN_VALUE, -SINGLE_STEP, 1 + Number.EPSILON, 1.5, -1, NaN, Infinity]) {
    assertEncodeThrows(schema, { id: 1, x: bad }, RangeError);
  }
  assertEncodeThrows(schema, { id: 1, x: -Infinity }, RangeError);
  for (const bad of ["0.5", 1n, null, true]) {
    assertEncodeThrows(schema, { id: 1, x: bad }, TypeError);
  }
});

// ---------------------------------------------------------------------------------------------
// radians

/** The signed distance from `decoded` to `value` modulo 2π, in [-π, π). */
function angularError(value: number, decoded: number): number {
  const d = (value % TWO_PI) - decoded; // `%` is exact on doubles
  return ((d % TWO_PI) + TWO_PI + Math.PI) % TWO_PI - Math.PI;
}

Deno.test("radians normalize to (-π, π]: π stays π and -π becomes π", () => {
  const schema = probe("radians");
  assert.equal(assertRoundTrip(schema, Math.PI, Math.PI).length, 3);
  assertRoundTrip(schema, -Math.PI, Math.PI);
  assertRoundTrip(schema, 3 * Math.PI / 2, -Math.PI / 2);
  assertRoundTrip(schema, -3 * Math.PI / 2, Math.PI / 2);
  assertRoundTrip(schema, Math.PI / 2, Math.PI / 2);
  assertRoundTrip(schema, -Math.PI / 2, -Math.PI / 2);
  assertRoundTrip(schema, 0, 0);
  assertRoundTrip(schema, -0, 0);
  assertRoundTrip(schema, TWO_PI, 0);
  assertRoundTrip(schema, -TWO_PI, 0);
  assertRoundTrip(schema, 1001 * Math.PI, Math.PI);
  assertRoundTrip(schema, -1001 * Math.PI, Math.PI);
  assertRoundTrip(schema, RADIANS_STEP, RADIANS_STEP);
  assertRoundTrip(schema, -RADIANS_STEP, -RADIANS_STEP);
  // The wire value is the step count modulo 65536, big-endian.
  assert.deepEqual([...assertRoundTrip(schema, Math.PI, Math.PI)], [7, 0x80, 0x00]);
  assert.deepEqual([...assertRoundTrip(schema, -RADIANS_STEP, -RADIANS_STEP)], [7, 0xff, 0xff]);
});

Deno.test("radians wrap large angles to the same direction", () => {
  const schema = probe("radians");
  for (const turns of [1, 2, 10, 1000, -1, -7, -1000]) {
    for (const angle of [0.25, -1, 3]) {
      const { decoded } = roundTrip(schema, { id: 1, x: angle + turns * TWO_PI });
      const x = decoded.x as number;
      assert.ok(Math.abs(x - angle) <= RADIANS_STEP / 2 + 1e-9, `${angle} + ${turns} turns`);
    }
  }
  const huge = roundTrip(schema, { id: 1, x: Number.MAX_VALUE }).decoded.x as number;
  assert.ok(huge > -Math.PI && huge <= Math.PI);
});

Deno.test("radians decode within half a step of the encoded angle, in (-π, π]", () => {
  const schema = probe("radians");
  const next = mulberry32(0x7ad1a45);
  const values: number[] = [RADIANS_STEP / 2, -RADIANS_STEP / 2, Math.PI - RADIANS_STEP / 2];
  for (let i = 0; i < 2000; i++) values.push((next() * 2 - 1) * 4 * Math.PI);
  for (let i = 0; i < 500; i++) values.push((next() * 2 - 1) * 1e9);
  for (const value of values) {
    const x = roundTrip(schema, { id: 1, x: value }).decoded.x as number;
    assert.ok(x > -Math.PI && x <= Math.PI, `radians ${value} decoded as ${x}`);
    // Dividing by the step rounds relative to the angle's size: allow for that on big angles.
    const tolerance = RADIANS_STEP / 2 + Math.abs(value) * Number.EPSILON + 1e-12;
    const error = angularError(value, x);
    assert.ok(Math.abs(error) <= tolerance, `radians ${value} decoded as ${x} (off by ${error})`);
  }
});

Deno.test("radians refuse NaN and infinities with a RangeError", () => {
  const schema = probe("radians");
  for (const bad of [NaN, Infinity, -Infinity]) {
    assertEncodeThrows(schema, { id: 1, x: bad }, RangeError);
  }
  for (const bad of ["3.14", 3n, null, false]) {
    assertEncodeThrows(schema, { id: 1, x: bad }, TypeError);
  }
});

// ---------------------------------------------------------------------------------------------
// string

const encoder = new TextEncoder();

Deno.test("string round trips UTF-8 beyond Latin-1: Cyrillic, CJK and emoji", () => {
  const schema = probe("string");
  const texts = [
    "",
    "hello",
    "café ñ ü",
    "Привет, мир",
    "你好，世界",
    "日本語のテキスト",
    "😀",
    "👍🏽 family: 👨‍👩‍👧‍👦",
    "mixed: aé Ж 中 😀 end",
    "\u0000nul\u0000",
    "\uFEFFbom first",
    "\u{10FFFF}\u{10000}",
    "\uFFFF\uFFFE",
    "x".repeat(32) + "é",
  ];
  for (const text of texts) {
    const body = assertRoundTrip(schema, text, text);
    const utf8 = encoder.encode(text);
    // The body is the id byte, a varuint length and the UTF-8 bytes.
    assert.deepEqual(body.subarray(body.length - utf8.length), utf8);
    assert.equal(body.length, 1 + (utf8.length < 128 ? 1 : 2) + utf8.length);
  }
});

Deno.test("string length prefixes grow at 128 and 16384 bytes", () => {
  const schema = probe("string");
  for (const [length, prefix] of [[127, 1], [128, 2], [16383, 2], [16384, 3]] as const) {
    for (const text of ["a".repeat(length), "é".repeat(length / 2) + "a".repeat(length % 2)]) {
      assert.equal(encoder.encode(text).length, length);
      const body = assertRoundTrip(schema, text, text);
      assert.equal(body.length, 1 + prefix + length, `${length} bytes`);
    }
  }
});

Deno.test("string round trips at the maximum of 65535 UTF-8 bytes", () => {
  const schema = probe("string");
  const texts = [
    "a".repeat(65535),
    "€".repeat(21845), // 3 bytes each
    "😀".repeat(16383) + "abc", // 4 bytes each, plus 3
    "é".repeat(32767) + "a", // 2 bytes each, plus 1
  ];
  for (const text of texts) {
    assert.equal(encoder.encode(text).length, 65535);
    const body = assertRoundTrip(schema, text, text);
    assert.equal(body.length, 1 + 3 + 65535);
  }
  // Such a frame is larger than the default maxFrameSize: it needs the option on both sides.
  assert.throws(() => encodeFrame(schema, { id: 1, x: "a".repeat(65535) }), RangeError);
});

Deno.test("string refuses more than 65535 UTF-8 bytes with a RangeError", () => {
  const schema = probe("string");
  for (
    const text of [
      "a".repeat(65536),
      "€".repeat(21845) + "a",
      "😀".repeat(16384),
      "é".repeat(32768),
      "中".repeat(30000), // under 65535 code units, 90000 bytes
    ]
  ) {
    assert.ok(encoder.encode(text).length > 65535);
    assertEncodeThrows(schema, { id: 1, x: text }, RangeError);
  }
});

Deno.test("string refuses a lone surrogate with a RangeError", () => {
  const schema = probe("string");
  for (const text of ["\uD800", "\uDC00", "a\uD83D", "\uDE00b", "\uDC00\uD800", "ok 😀 \uD83D"]) {
    assertEncodeThrows(schema, { id: 1, x: text }, RangeError);
  }
});

Deno.test("string refuses non-strings with a TypeError", () => {
  const schema = probe("string");
  for (const bad of [1, null, 1n, true, new String("x"), ["a"], new Uint8Array(1)]) {
    assertEncodeThrows(schema, { id: 1, x: bad }, TypeError);
  }
});

// ---------------------------------------------------------------------------------------------
// bytes

Deno.test("bytes round trip empty, short and maximum-length arrays", () => {
  const schema = probe("bytes");
  assert.deepEqual([...assertRoundTrip(schema, new Uint8Array(0), new Uint8Array(0))], [7, 0]);
  assert.deepEqual(
    [...assertRoundTrip(schema, Uint8Array.of(0, 255, 128), Uint8Array.of(0, 255, 128))],
    [7, 3, 0, 255, 128],
  );
  const max = new Uint8Array(65535).map((_, i) => (i * 31) & 0xff);
  const body = assertRoundTrip(schema, max, max);
  assert.equal(body.length, 1 + 3 + 65535);
});

Deno.test("bytes encode only the view they are given and decode as a copy", () => {
  const schema = probe("bytes");
  const backing = Uint8Array.of(9, 9, 1, 2, 3, 9, 9);
  const view = backing.subarray(2, 5);
  const body = assertRoundTrip(schema, view, Uint8Array.of(1, 2, 3));
  const decoded = schema.codec.read(body, 0, body.length, 0).x as Uint8Array;
  body.fill(0);
  assert.deepEqual(decoded, Uint8Array.of(1, 2, 3), "decoded bytes do not alias the input");
  const frameBytes = encodeFrame(schema, { id: 1, x: view });
  const frame = decodeFrame(frameBytes, { schemas: new SchemaRegistry([schema]) });
  assert.ok(frame.type === "message");
  const fromFrame = frame.value.x as Uint8Array;
  assert.notEqual(fromFrame.buffer, frameBytes.buffer);
});

Deno.test("bytes refuse more than 65535 bytes with a RangeError", () => {
  const schema = probe("bytes");
  assertEncodeThrows(schema, { id: 1, x: new Uint8Array(65536) }, RangeError);
  assertEncodeThrows(schema, { id: 1, x: new Uint8Array(100_000) }, RangeError);
});

Deno.test("bytes refuse anything but a Uint8Array with a TypeError", () => {
  const schema = probe("bytes");
  const bad = [
    [1, 2],
    new ArrayBuffer(2),
    new Uint16Array(2),
    new DataView(new ArrayBuffer(2)),
    "ab",
    null,
    1,
  ];
  for (const value of bad) assertEncodeThrows(schema, { id: 1, x: value }, TypeError);
});

// ---------------------------------------------------------------------------------------------
// Required and optional fields

const SAMPLES: Record<FieldType, unknown> = {
  bool: true,
  int8: -5,
  uint8: 200,
  int16: -300,
  uint16: 60000,
  int32: -70000,
  uint32: 3000000000,
  varuint: 300,
  varint: -300,
  float32: 1.5,
  float64: 0.1,
  single: 1,
  radians: 1,
  string: "Ж😀",
  bytes: Uint8Array.of(1, 2),
};
const TYPES = Object.keys(SAMPLES) as FieldType[];

Deno.test("a missing or undefined required field of any type throws a TypeError naming it", () => {
  for (const type of TYPES) {
    const schema = probe(type);
    assertEncodeThrows(schema, { id: 1 }, TypeError);
    assertEncodeThrows(schema, { id: 1, x: undefined }, TypeError);
    assertEncodeThrows(schema, { x: SAMPLES[type] }, TypeError, "id");
  }
});

Deno.test("null is not absent: it throws a TypeError for required and optional fields", () => {
  for (const type of TYPES) {
    assertEncodeThrows(probe(type), { id: 1, x: null }, TypeError);
    assertEncodeThrows(probe(type, true), { id: 1, x: null }, TypeError);
  }
});

Deno.test("an optional field of any type round trips when present", () => {
  for (const type of TYPES) {
    const schema = probe(type, true);
    const { decoded } = roundTrip(schema, { id: 3, x: SAMPLES[type] });
    assert.ok(Object.hasOwn(decoded, "x"), type);
  }
});

Deno.test("an absent optional field costs no bytes: only its presence bit changes", () => {
  for (const type of TYPES) {
    const schema = probe(type, true);
    const present = encodeFrame(schema, { id: 3, x: SAMPLES[type] }).slice();
    const absent = encodeFrame(schema, { id: 3 }).slice();
    const presentBody = referenceBody(schema, { id: 3, x: SAMPLES[type] });
    const absentBody = referenceBody(schema, { id: 3 });
    // Body: bit section (presence bit, then a bool's value bit), the id byte, then x's bytes.
    const valueBytes = presentBody.length - 2;
    assert.equal(absent.length, present.length - valueBytes, type);
    assert.equal(absentBody.length, 2, type);
    assert.equal(presentBody[0]! & 0x80, 0x80, `${type}: presence bit set`);
    assert.equal(absentBody[0], presentBody[0]! & ~0xc0, `${type}: only the field's bits clear`);
    assert.equal(absentBody[0], 0);
    assert.equal(absentBody[1], presentBody[1]);
    if (type === "bool") assert.equal(absent.length, present.length);
    // Passing undefined is the same as leaving the field out.
    assert.deepEqual(encodeFrame(schema, { id: 3, x: undefined }).slice(), absent);
  }
});

Deno.test("an absent optional field comes back absent, not as undefined", () => {
  for (const type of TYPES) {
    const schema = probe(type, true);
    const { decoded, body } = roundTrip(schema, { id: 3 });
    assert.deepEqual(decoded, { id: 3 });
    assert.equal(Object.hasOwn(decoded, "x"), false, type);
    assert.equal(Object.hasOwn(readMessage(new BinaryReader(body), schema), "x"), false);
    const frame = decodeFrame(encodeFrame(schema, { id: 3 }), {
      schemas: new SchemaRegistry([schema]),
    });
    assert.ok(frame.type === "message");
    assert.equal(Object.hasOwn(frame.value, "x"), false, type);
  }
});

Deno.test("many absent optional fields cost one presence bit each", () => {
  const fields: Record<string, { id: number; type: FieldType; optional: true }> = {};
  TYPES.forEach((type, i) => fields[`f${i}`] = { id: i * 3, type, optional: true });
  const schema = defineSchema({
    name: "Sparse",
    code: 1,
    version: 0,
    fields,
  }) as unknown as AnySchema;
  // 15 presence bits and one bool value bit: two bytes.
  assert.equal(schema.bitCount, 16);
  assert.deepEqual([...roundTrip(schema, {}).body], [0, 0]);
  const full: Value = {};
  TYPES.forEach((type, i) => full[`f${i}`] = SAMPLES[type]);
  const { decoded } = roundTrip(schema, full);
  assert.equal(Object.keys(decoded).length, TYPES.length);
  for (const [name, value] of Object.entries(full)) {
    const { decoded: one } = roundTrip(schema, { [name]: value });
    assert.deepEqual(Object.keys(one), [name]);
  }
});

// ---------------------------------------------------------------------------------------------
// Failed encodes leave the output untouched

const FAILING_VALUES: [string, unknown, ErrorClass][] = [
  ["a missing required field", { name: "n" }, TypeError],
  ["a wrong type in a late field", { id: 1, name: "n", hp: "full" }, TypeError],
  ["an out-of-range late field", { id: 1, name: "n", hp: 2 }, RangeError],
  ["a string over the limit", { id: 1, name: "€".repeat(30000) }, RangeError],
  ["a lone surrogate", { id: 1, name: "\uD800" }, RangeError],
  ["too much for the frame", { id: 1, name: "a".repeat(65535) }, RangeError],
];

const Player = defineSchema({
  name: "PlayerState",
  code: 10,
  version: 0,
  fields: {
    id: { id: 0, type: "uint16" },
    alive: { id: 1, type: "bool", optional: true },
    name: { id: 2, type: "string" },
    hp: { id: 3, type: "single", optional: true },
  },
}) as unknown as AnySchema;

Deno.test("writeFrame appends nothing when encoding fails", () => {
  for (const [what, value, errorClass] of FAILING_VALUES) {
    const writer = new BinaryWriter(16);
    writeFrame(writer, Player, { id: 5, name: "before" });
    const before = writer.toBytes();
    assert.throws(() => writeFrame(writer, Player, value as Value), errorClass, what);
    assert.equal(writer.length, before.length, what);
    assert.deepEqual(writer.toBytes(), before, what);
    writeFrame(writer, Player, { id: 6, name: "after" });
    const decoded = decodeFrame(writer.toBytes().subarray(before.length), {
      schemas: new SchemaRegistry([Player]),
    });
    assert.ok(decoded.type === "message");
    assert.deepEqual(decoded.value, { id: 6, name: "after" }, what);
  }
});

Deno.test("codec.write and writeMessage leave the writer's length unchanged when they throw", () => {
  for (const [what, value, errorClass] of FAILING_VALUES.slice(0, -1)) {
    for (
      const write of [Player.codec.write, (w: BinaryWriter, v: Value) => writeMessage(w, Player, v)]
    ) {
      const writer = new BinaryWriter(16);
      Player.codec.write(writer, { id: 5, name: "before" });
      const before = writer.toBytes();
      assert.throws(() => write(writer, value as Value), errorClass, what);
      assert.equal(writer.length, before.length, what);
      assert.deepEqual(writer.toBytes(), before, what);
    }
  }
});

Deno.test("a failed encodeFrame does not disturb frames encoded before it", () => {
  const first = encodeFrame(Player, { id: 1, name: "first" });
  const copy = first.slice();
  for (const [what, value, errorClass] of FAILING_VALUES) {
    assert.throws(() => encodeFrame(Player, value as Value), errorClass, what);
  }
  const second = encodeFrame(Player, { id: 2, name: "second" });
  assert.deepEqual(first, copy);
  const schemas = new SchemaRegistry([Player]);
  const a = decodeFrame(first, { schemas });
  const b = decodeFrame(second, { schemas });
  assert.ok(a.type === "message" && b.type === "message");
  assert.deepEqual(a.value, { id: 1, name: "first" });
  assert.deepEqual(b.value, { id: 2, name: "second" });
});

Deno.test("encoding a value that is not an object throws a TypeError naming the schema", () => {
  const empty = defineSchema({
    name: "Empty",
    code: 2,
    version: 0,
    fields: {},
  }) as unknown as AnySchema;
  for (const schema of [Player, empty]) {
    for (const bad of [null, undefined, 5, "text", true]) {
      const attempts = [
        () => encodeFrame(schema, bad as unknown as Value),
        () => schema.codec.write(new BinaryWriter(), bad as unknown as Value),
        () => writeMessage(new BinaryWriter(), schema, bad as unknown as Value),
      ];
      for (const attempt of attempts) {
        assert.throws(attempt, TypeError);
        assert.throws(attempt, { name: "TypeError", message: new RegExp(schema.name) });
      }
    }
  }
});
