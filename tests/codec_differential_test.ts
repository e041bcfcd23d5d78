// Differential tests: the compiled codec (schema.codec) against the reference codec
// (writeMessage / readMessage) on random schemas, values and damaged bodies, from fixed seeds.
import assert from "node:assert/strict";
import {
  BinaryReader,
  BinaryWriter,
  defineSchema,
  FIELD_TYPES,
  type FieldType,
  FLOAT32_MAX,
  INTEGER_RANGES,
  ProtocolError,
  RADIANS_STEP,
  readMessage,
  type Schema,
  writeMessage,
} from "../protocol/mod.ts";
import { Random } from "./prng.ts";

type AnySchema = Schema<Record<string, unknown>>;
type Value = Record<string, unknown>;

const SCHEMAS_PER_SEED = 60;
const SEEDS = [1, 2, 3, 0xc0dec, 0xdeadbeef];

// ---------------------------------------------------------------------------------------------
// Random schemas

const ODD_NAMES = [
  "toJSON",
  "name",
  "with space",
  "a:b",
  'quote"d',
  "back\\slash",
  "new\nline",
  "$dollar",
  "ünï",
  "名前",
  "😀",
  "0",
  "length",
  "prototype",
];

function randomSchema(random: Random, index: number): AnySchema {
  const count = random.int(0, 12);
  const ids = new Set<number>();
  const dense = random.chance(0.5);
  while (ids.size < count) ids.add(dense ? random.int(0, 15) : random.int(0, 255));
  const fields: Record<string, { id: number; type: FieldType; optional: boolean }> = {};
  let n = 0;
  for (const id of ids) {
    let name = random.chance(0.25) ? random.pick(ODD_NAMES) : `f${n}`;
    while (Object.hasOwn(fields, name)) name = `f${n}_${random.int(0, 1e6)}`;
    n++;
    const type = random.chance(0.3) ? "bool" : random.pick(FIELD_TYPES);
    fields[name] = { id, type, optional: random.chance(0.4) };
  }
  return defineSchema({
    name: `Random${index}`,
    code: random.int(0, 255),
    version: random.int(0, 255),
    fields,
  }) as unknown as AnySchema;
}

// ---------------------------------------------------------------------------------------------
// Random valid values

const encoder = new TextEncoder();

const CHAR_POOLS = [
  "abcxyzABC019 _-~",
  "éüñçßøÆ¿",
  "ЖПривет",
  "中文日本語한국",
  "😀👍🏽🎮🚀\u{10FFFF}",
  "\u0000\u007f\u0080\u07ff\u0800\uFEFF\uFFFF",
];

function randomString(random: Random): string {
  const roll = random.next();
  const length = roll < 0.1 ? 0 : roll < 0.9 ? random.int(1, 40) : random.int(100, 400);
  let text = "";
  const ascii = random.chance(0.4);
  for (let i = 0; i < length; i++) {
    const pool = ascii ? CHAR_POOLS[0]! : random.pick(CHAR_POOLS);
    text += random.pick([...pool]);
  }
  return text;
}

/** Byte lengths where length prefixes change size, and the limit. */
const LENGTH_EDGES = [127, 128, 129, 16383, 16384, 16385, 65534, 65535];

/** A string of exactly `size` UTF-8 bytes: a random snippet repeated, then ASCII padding. */
function stringOfSize(random: Random, size: number): string {
  const snippet = randomString(random) || "x";
  const snippetSize = encoder.encode(snippet).length;
  const text = snippet.repeat(Math.floor(size / snippetSize));
  return text + "a".repeat(size - encoder.encode(text).length);
}

function randomBytes(random: Random): Uint8Array {
  const roll = random.next();
  const length = roll < 0.1
    ? 0
    : roll < 0.93
    ? random.int(1, 40)
    : roll < 0.97
    ? random.pick(LENGTH_EDGES)
    : random.int(120, 65535);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = random.int(0, 255);
  return bytes;
}

const view = new DataView(new ArrayBuffer(8));

function randomFloat64Bits(random: Random): number {
  for (;;) {
    view.setUint32(0, random.int(0, 0xffff_ffff));
    view.setUint32(4, random.int(0, 0xffff_ffff));
    const value = view.getFloat64(0);
    if (Number.isFinite(value)) return value;
  }
}

function randomFloat32Bits(random: Random): number {
  for (;;) {
    view.setUint32(0, random.int(0, 0xffff_ffff));
    const value = view.getFloat32(0);
    if (Number.isFinite(value)) return value;
  }
}

const VARUINT_EDGES = [0, 127, 128, 16383, 16384, 2097151, 2097152, 268435455, 268435456];

function randomFieldValue(random: Random, type: FieldType): unknown {
  const edge = random.chance(0.3);
  const range = INTEGER_RANGES[type];
  if (range !== undefined) {
    const [min, max] = range;
    if (edge) {
      const edges = [min, max, 0, -0, 1, min + 1, max - 1, ...VARUINT_EDGES, -1, -64, -65, 63, 64];
      return random.pick(edges.filter((v) => v >= min && v <= max));
    }
    return random.int(min, max);
  }
  switch (type) {
    case "bool":
      return random.chance(0.5);
    case "float32":
      if (edge) {
        return random.pick([FLOAT32_MAX, -FLOAT32_MAX, 0, -0, 2 ** -149, 1e-46, 0.1, -1e38]);
      }
      return random.chance(0.5)
        ? randomFloat32Bits(random)
        : (random.next() * 2 - 1) * 2 ** random.int(-150, 127);
    case "float64":
      if (edge) {
        return random.pick([Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, -0, 0, 0.1]);
      }
      return randomFloat64Bits(random);
    case "single":
      if (edge) return random.pick([0, 1, -0, 0.5, (random.int(0, 254) + 0.5) / 255]);
      return random.next();
    case "radians":
      if (edge) {
        return random.pick([
          Math.PI,
          -Math.PI,
          0,
          -0,
          3 * Math.PI / 2,
          (random.int(-70000, 70000) + 0.5) * RADIANS_STEP,
          1e12,
          -1e300,
          Number.MAX_VALUE,
        ]);
      }
      return (random.next() * 2 - 1) * 10 ** random.int(0, 6);
    case "string":
      if (edge && random.chance(0.1)) return stringOfSize(random, random.pick(LENGTH_EDGES));
      if (edge && random.chance(0.05)) return stringOfSize(random, random.int(200, 65535));
      return randomString(random);
    case "bytes":
      return randomBytes(random);
  }
  throw new Error(`no generator for ${type}`);
}

function randomValue(random: Random, schema: AnySchema): Value {
  const value: Value = {};
  for (const field of schema.fields) {
    if (field.optional && random.chance(0.3)) {
      if (random.chance(0.15)) value[field.name] = undefined;
      continue;
    }
    value[field.name] = randomFieldValue(random, field.type);
  }
  // Sometimes the fields are inherited rather than own properties: both codecs read them alike.
  return random.chance(0.05) ? Object.create(value) : value;
}

/** What a field's value decodes as, for types that need no angle arithmetic. */
function expectedDecoded(type: FieldType, value: unknown): unknown {
  switch (type) {
    case "float32":
      return Math.fround(value as number);
    case "single":
      return (Math.round((value as number) * 255) | 0) / 255;
    case "float64":
    case "bool":
    case "string":
    case "bytes":
      return value;
    default: // integers: -0 comes back as 0
      return value === 0 ? 0 : value;
  }
}

// ---------------------------------------------------------------------------------------------
// Random invalid values

function wrongTypeValues(type: FieldType): unknown[] {
  switch (type) {
    case "bool":
      return [0, 1, "true", null, 1n, new Boolean(false), {}];
    case "string":
      return [1, null, new String("a"), ["a"], new Uint8Array(1), true, 1n];
    case "bytes":
      return [[1], "ab", null, new ArrayBuffer(1), new Uint16Array(1), { length: 1 }, 1];
    default:
      return ["1", true, null, 1n, {}, [], new Number(1), Symbol.iterator];
  }
}

function outOfRangeValues(random: Random, type: FieldType): unknown[] {
  const range = INTEGER_RANGES[type];
  const nonFinite = [NaN, Infinity, -Infinity];
  if (range !== undefined) {
    const [min, max] = range;
    return [min - 1, max + 1, 0.5, min - 0.5, max - 0.5, 2 ** 53, -(2 ** 53), ...nonFinite];
  }
  switch (type) {
    case "float32":
      return [
        FLOAT32_MAX + 2 ** 75,
        -(FLOAT32_MAX + 2 ** 75),
        1e39,
        Number.MAX_VALUE,
        ...nonFinite,
      ];
    case "float64":
    case "radians":
      return nonFinite;
    case "single":
      return [-1e-9, -Number.MIN_VALUE, 1 + Number.EPSILON, 2, -1, ...nonFinite];
    case "string": {
      const lone = ["\uD800", "\uDFFF", "a\uD83D", "\uDE00z", "😀\uDC00"];
      return random.chance(0.1)
        ? [stringOfSize(random, 65536), stringOfSize(random, random.int(65536, 100000))]
        : lone;
    }
    case "bytes":
      return random.chance(0.05) ? [new Uint8Array(65536)] : [];
    default:
      return [];
  }
}

function randomInvalidValue(random: Random, schema: AnySchema): unknown {
  if (schema.fields.length === 0 || random.chance(0.05)) {
    return random.pick([null, undefined, 5, "text", true, 1n]);
  }
  const value = randomValue(random, schema);
  const own: Value = { ...value };
  for (const key of Object.keys(Object.getPrototypeOf(value) ?? {})) own[key] = value[key];
  const field = random.pick(schema.fields);
  const roll = random.next();
  if (roll < 0.15 && !field.optional) {
    delete own[field.name];
  } else if (roll < 0.55) {
    own[field.name] = random.pick(wrongTypeValues(field.type));
  } else {
    const bad = outOfRangeValues(random, field.type);
    own[field.name] = bad.length > 0 ? random.pick(bad) : random.pick(wrongTypeValues(field.type));
  }
  // Sometimes a second field is broken too: the first in id order must be the one reported.
  if (random.chance(0.2)) {
    const other = random.pick(schema.fields);
    own[other.name] = random.pick(wrongTypeValues(other.type));
  }
  return own;
}

// ---------------------------------------------------------------------------------------------
// Damaged bodies

function mutate(random: Random, body: Uint8Array): Uint8Array {
  const bytes = [...body];
  const edits = random.int(1, 3);
  for (let e = 0; e < edits; e++) {
    const at = random.int(0, Math.max(0, bytes.length - 1));
    switch (random.int(0, 7)) {
      case 0: // flip a bit
        if (bytes.length > 0) bytes[at]! ^= 1 << random.int(0, 7);
        break;
      case 1: // a random byte
        if (bytes.length > 0) bytes[at] = random.int(0, 255);
        break;
      case 2: // a byte that matters to varints and lengths
        if (bytes.length > 0) bytes[at] = random.pick([0x00, 0x7f, 0x80, 0xff, 0xc0, 0xed, 0xf4]);
        break;
      case 3: // truncate
        bytes.length = random.int(0, bytes.length);
        break;
      case 4: // append
        bytes.push(random.int(0, 255));
        break;
      case 5: // insert
        bytes.splice(at, 0, random.int(0, 255));
        break;
      case 6: // delete
        bytes.splice(at, 1);
        break;
      default: // random bytes of a random length
        bytes.length = 0;
        for (let i = random.int(0, 12); i > 0; i--) bytes.push(random.int(0, 255));
    }
  }
  return Uint8Array.from(bytes);
}

// ---------------------------------------------------------------------------------------------
// Outcomes

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

function outcome(run: () => unknown): Outcome {
  try {
    return { ok: true, value: run() };
  } catch (error) {
    return { ok: false, error };
  }
}

function describeCase(schema: AnySchema, input: unknown): string {
  const show = (v: unknown): unknown =>
    v instanceof Uint8Array
      ? `Uint8Array(${v.length}) [${[...v.subarray(0, 24)]}${v.length > 24 ? ", ..." : ""}]`
      : typeof v === "bigint"
      ? `${v}n`
      : typeof v === "string" && v.length > 40
      ? `${JSON.stringify(v.slice(0, 40))}... (${v.length} units)`
      : v;
  let text: string;
  try {
    text = input instanceof Uint8Array || typeof input !== "object" || input === null
      ? String(show(input))
      : JSON.stringify(input, (_, v) => show(v));
  } catch {
    text = String(input);
  }
  return `${schema.name} [${
    schema.fields.map((f) => `${f.id}:${f.type}${f.optional ? "?" : ""}`)
  }] ${text}`;
}

/** Decodes `body` with both codecs, from inside a larger buffer at a random place. */
function decodeBoth(random: Random, schema: AnySchema, body: Uint8Array): [Outcome, Outcome] {
  const before = random.int(0, 5);
  const buffer = new Uint8Array(before + body.length + random.int(0, 5));
  for (let i = 0; i < buffer.length; i++) buffer[i] = random.int(0, 255);
  buffer.set(body, before);
  const end = before + body.length;
  const base = random.chance(0.5) ? 0 : random.int(1, 100000);
  const compiled = outcome(() => schema.codec.read(buffer, before, end, base));
  const reference = outcome(() => readMessage(new BinaryReader(buffer, before, end, base), schema));
  return [compiled, reference];
}

function assertSameDecoding(compiled: Outcome, reference: Outcome, what: string): void {
  if (!compiled.ok) {
    assert.ok(compiled.error instanceof ProtocolError, `compiled threw ${compiled.error}: ${what}`);
  }
  if (!reference.ok) {
    assert.ok(
      reference.error instanceof ProtocolError,
      `reference threw ${reference.error}: ${what}`,
    );
  }
  assert.equal(compiled.ok, reference.ok, `one codec accepted, the other refused: ${what}`);
  if (compiled.ok && reference.ok) {
    assert.deepEqual(compiled.value, reference.value, what);
  } else if (!compiled.ok && !reference.ok) {
    const a = compiled.error as ProtocolError;
    const b = reference.error as ProtocolError;
    assert.equal(a.code, b.code, what);
    assert.equal(a.message, b.message, what);
    assert.equal(a.offset, b.offset, what);
  }
}

/** A writer that already holds a few bytes and has little room, so writes must grow it. */
function busyWriter(random: Random): { writer: BinaryWriter; prefix: Uint8Array } {
  const writer = new BinaryWriter(random.int(1, 64));
  const prefix = new Uint8Array(random.int(0, 20)).map(() => random.int(0, 255));
  writer.raw(prefix);
  return { writer, prefix };
}

// ---------------------------------------------------------------------------------------------
// Tests

Deno.test("compiled and reference codecs write the same bytes and read the same values", () => {
  let cases = 0;
  for (const seed of SEEDS) {
    const random = new Random(seed);
    for (let s = 0; s < SCHEMAS_PER_SEED; s++) {
      const schema = randomSchema(random, s);
      for (let v = 0; v < 6; v++) {
        const value = randomValue(random, schema);
        const what = `seed ${seed}: ${describeCase(schema, value)}`;
        const fast = busyWriter(random);
        schema.codec.write(fast.writer, value);
        const slow = new BinaryWriter(16);
        writeMessage(slow, schema, value);
        const body = slow.toBytes();
        assert.deepEqual(fast.writer.toBytes().subarray(0, fast.prefix.length), fast.prefix, what);
        assert.deepEqual(fast.writer.toBytes().subarray(fast.prefix.length), body, what);

        const [compiled, reference] = decodeBoth(random, schema, body);
        assertSameDecoding(compiled, reference, what);
        assert.ok(compiled.ok, what);
        const decoded = compiled.value as Value;
        for (const field of schema.fields) {
          const input = value[field.name];
          assert.equal(Object.hasOwn(decoded, field.name), input !== undefined, what);
          if (input === undefined) continue;
          if (field.type === "radians") {
            const x = decoded[field.name] as number;
            assert.ok(x > -Math.PI && x <= Math.PI, what);
          } else {
            assert.deepEqual(decoded[field.name], expectedDecoded(field.type, input), what);
          }
        }
        cases++;
      }
    }
  }
  assert.ok(cases >= 1500, `${cases} cases`);
});

Deno.test("compiled and reference codecs refuse invalid values with the same error", () => {
  let cases = 0;
  for (const seed of SEEDS) {
    const random = new Random(seed ^ 0x1badbad);
    for (let s = 0; s < SCHEMAS_PER_SEED; s++) {
      const schema = randomSchema(random, s);
      for (let v = 0; v < 6; v++) {
        const value = randomInvalidValue(random, schema) as Value;
        const what = `seed ${seed}: ${describeCase(schema, value)}`;
        const fast = busyWriter(random);
        const slow = busyWriter(random);
        const compiled = outcome(() => schema.codec.write(fast.writer, value));
        const reference = outcome(() => writeMessage(slow.writer, schema, value));
        if (compiled.ok || reference.ok) {
          // A value can come out valid (say, the broken field was optional and got undefined).
          assert.equal(compiled.ok, reference.ok, `one codec accepted, the other refused: ${what}`);
          assert.deepEqual(
            fast.writer.toBytes().subarray(fast.prefix.length),
            slow.writer.toBytes().subarray(slow.prefix.length),
            what,
          );
          continue;
        }
        const a = compiled.error as Error;
        const b = reference.error as Error;
        assert.ok(a instanceof TypeError || a instanceof RangeError, `${a}: ${what}`);
        assert.equal(Object.getPrototypeOf(a), Object.getPrototypeOf(b), what);
        assert.equal(a.message, b.message, what);
        assert.match(a.message, new RegExp(`^Cannot encode ${schema.name}\\b`), what);
        // Neither leaves a partial body behind.
        assert.deepEqual(fast.writer.toBytes(), fast.prefix, what);
        assert.deepEqual(slow.writer.toBytes(), slow.prefix, what);
        cases++;
      }
    }
  }
  assert.ok(cases >= 1000, `${cases} cases`);
});

Deno.test("compiled and reference codecs agree on damaged bodies, throwing only ProtocolError", () => {
  let cases = 0;
  let refused = 0;
  for (const seed of SEEDS) {
    const random = new Random(seed ^ 0x5eed5);
    for (let s = 0; s < SCHEMAS_PER_SEED; s++) {
      const schema = randomSchema(random, s);
      for (let v = 0; v < 3; v++) {
        const writer = new BinaryWriter();
        writeMessage(writer, schema, randomValue(random, schema));
        const body = writer.toBytes();
        for (let m = 0; m < 5; m++) {
          const damaged = mutate(random, body);
          const what = `seed ${seed}: ${describeCase(schema, damaged)}`;
          const [compiled, reference] = decodeBoth(random, schema, damaged);
          assertSameDecoding(compiled, reference, what);
          if (!compiled.ok) refused++;
          cases++;
        }
      }
    }
  }
  assert.ok(cases >= 4000, `${cases} cases`);
  // The damage is real: most bodies are refused, and some survive as other valid values.
  assert.ok(refused > cases / 4 && refused < cases, `${refused} of ${cases} refused`);
});

Deno.test("compiled and reference codecs agree on each error code for crafted bodies", () => {
  const schema = defineSchema({
    name: "Crafted",
    code: 1,
    version: 0,
    fields: {
      flag: { id: 0, type: "bool", optional: true },
      n: { id: 1, type: "varuint" },
      f: { id: 2, type: "float32", optional: true },
      s: { id: 3, type: "string", optional: true },
      d: { id: 4, type: "float64", optional: true },
      b: { id: 5, type: "bytes", optional: true },
    },
  }) as unknown as AnySchema;
  // Presence bits: flag 0x80, f 0x40, s 0x20, d 0x10, b 0x08; flag's value bit 0x04.
  const cases: [number[], string][] = [
    [[], "truncated"],
    [[0x00], "truncated"],
    [[0x00, 0x80], "truncated"],
    [[0x00, 0x80, 0x00], "varint_overlong"],
    [[0x00, 0xff, 0xff, 0xff, 0xff, 0x10], "varint_oversized"],
    [[0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], "varint_oversized"],
    [[0x02, 0x00], "padding_bits"],
    [[0x01, 0x00], "padding_bits"],
    [[0x04, 0x00], "padding_bits"],
    [[0x00, 0x00, 0x00], "trailing_bytes"],
    [[0x40, 0x00, 0x7f, 0xc0, 0x00, 0x00], "invalid_value"],
    [[0x40, 0x00, 0xff, 0x80, 0x00, 0x00], "invalid_value"],
    [[0x10, 0x00, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0], "invalid_value"],
    [[0x20, 0x00, 0x02, 0xc3, 0x28], "invalid_utf8"],
    [[0x20, 0x00, 0x03, 0xed, 0xa0, 0x80], "invalid_utf8"],
    [[0x20, 0x00, 0x01, 0xff], "invalid_utf8"],
    [[0x20, 0x00, 0x80, 0x80, 0x04], "invalid_value"],
    [[0x08, 0x00, 0x80, 0x80, 0x04], "invalid_value"],
    [[0x20, 0x00, 0x05, 0x61], "truncated"],
    [[0x08, 0x00, 0x02, 0x01], "truncated"],
  ];
  // Lengths over the limit, with every byte present: refused for the length, not as truncated.
  const long = [0x00, 0x80, 0x80, 0x04, ...new Uint8Array(65536).fill(0x61)];
  cases.push([[0x20, ...long], "invalid_value"], [[0x08, ...long], "invalid_value"]);
  const random = new Random(99);
  for (const [bytes, code] of cases) {
    const body = Uint8Array.from(bytes);
    const [compiled, reference] = decodeBoth(random, schema, body);
    const what = `[${bytes.slice(0, 8)}${bytes.length > 8 ? ", ..." : ""}]`;
    assertSameDecoding(compiled, reference, what);
    assert.ok(!compiled.ok, `${what} decoded`);
    assert.equal((compiled.error as ProtocolError).code, code, what);
  }
  // And the valid neighbours of those bodies decode alike.
  for (
    const bytes of [[0x00, 0x00], [0x84, 0x05], [0x80, 0x05], [0x20, 0x00, 0x00], [
      0x08,
      0x01,
      0x00,
    ]]
  ) {
    const [compiled, reference] = decodeBoth(random, schema, Uint8Array.from(bytes));
    assertSameDecoding(compiled, reference, `[${bytes}]`);
    assert.ok(compiled.ok, `[${bytes}] refused`);
  }
});
