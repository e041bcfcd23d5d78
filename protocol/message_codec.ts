/**
 * The body of a message: its bit section, then its present fields in id order.
 *
 * @module
 */

import type { BinaryReader } from "./binary_reader.ts";
import type { BinaryWriter } from "./binary_writer.ts";
import { MAX_BYTES_LENGTH, MAX_STRING_BYTES } from "./constants.ts";
import { ProtocolError } from "./errors.ts";
import { FLOAT32_MAX, INTEGER_RANGES, RADIANS_STEP, radiansToUnits } from "./field_types.ts";
import type { FieldLayout, Schema } from "./schema.ts";

/**
 * Writes the body of a message of `schema` (bit section and fields, no frame header). On an
 * error nothing is appended.
 *
 * @param writer Where to write.
 * @param schema The message's schema.
 * @param value The message's value.
 * @throws {TypeError} When a required field is missing or a value has the wrong type.
 * @throws {RangeError} When a value is out of its type's range, not an integer where one is
 * needed, not finite, or too long; the message names the schema and the field.
 *
 * @example
 * ```ts
 * import { BinaryWriter, defineSchema, writeMessage } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const Hit = defineSchema({
 *   name: "Hit",
 *   code: 3,
 *   version: 0,
 *   fields: { target: { id: 0, type: "uint8" }, fatal: { id: 1, type: "bool" } },
 * });
 * const writer = new BinaryWriter();
 * writeMessage(writer, Hit, { target: 7, fatal: true });
 * assert.deepEqual(writer.toBytes(), new Uint8Array([0x80, 0x07]));
 * ```
 */
export function writeMessage<V extends object>(
  writer: BinaryWriter,
  schema: Schema<V>,
  value: V,
): void {
  const start = writer.length;
  try {
    writeBody(writer, schema, value);
  } catch (error) {
    writer.length = start; // on an error, append nothing
    throw error;
  }
}

function writeBody<V extends object>(writer: BinaryWriter, schema: Schema<V>, value: V): void {
  if (typeof value !== "object" || value === null) {
    throw new TypeError(`Cannot encode ${schema.name}: value must be an object`);
  }
  const record = value as Record<string, unknown>;
  const bitsAt = writer.length;
  const bitBytes = schema.bitBytes;
  writer.reserve(bitBytes);
  for (let i = 0; i < bitBytes; i++) writer.bytes[bitsAt + i] = 0;
  writer.length += bitBytes;
  const fields = schema.fields;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    const v = record[field.name];
    if (v === undefined) {
      if (field.optional) continue;
      throw new TypeError(`Cannot encode ${schema.name}.${field.name}: the field is required`);
    }
    if (field.presenceBit >= 0) setBit(writer, bitsAt, field.presenceBit);
    switch (field.type) {
      case "bool":
        if (typeof v !== "boolean") throw wrongType(schema, field, v, "a boolean");
        if (v) setBit(writer, bitsAt, field.valueBit);
        break;
      case "uint8":
      case "int8":
        writer.uint8(checkInteger(schema, field, v));
        break;
      case "uint16":
      case "int16":
        writer.uint16(checkInteger(schema, field, v));
        break;
      case "uint32":
      case "int32":
        writer.uint32(checkInteger(schema, field, v));
        break;
      case "varuint":
        writer.varuint(checkInteger(schema, field, v));
        break;
      case "varint": {
        const n = checkInteger(schema, field, v);
        writer.varuint(((n << 1) ^ (n >> 31)) >>> 0);
        break;
      }
      case "float32":
        checkFinite(schema, field, v);
        if (Math.abs(v as number) > FLOAT32_MAX) throw outOfRange(schema, field, v, "float32");
        writer.float32(v as number);
        break;
      case "float64":
        checkFinite(schema, field, v);
        writer.float64(v as number);
        break;
      case "single":
        checkFinite(schema, field, v);
        if ((v as number) < 0 || (v as number) > 1) throw outOfRange(schema, field, v, "0..1");
        writer.uint8(Math.round((v as number) * 255));
        break;
      case "radians":
        checkFinite(schema, field, v);
        writer.uint16(radiansToUnits(v as number));
        break;
      case "string":
        if (typeof v !== "string") throw wrongType(schema, field, v, "a string");
        writeString(writer, schema, field, v);
        break;
      case "bytes":
        if (!(v instanceof Uint8Array)) throw wrongType(schema, field, v, "a Uint8Array");
        if (v.length > MAX_BYTES_LENGTH) {
          throw new RangeError(
            `Cannot encode ${schema.name}.${field.name}: ${v.length} bytes exceed the maximum of ${MAX_BYTES_LENGTH}`,
          );
        }
        writer.varuint(v.length);
        writer.raw(v);
        break;
    }
  }
}

/**
 * Reads the body of a message of `schema` from `reader`, which must end where the message ends.
 *
 * @param reader A reader over exactly the message's body.
 * @param schema The message's schema.
 * @returns A new object with the message's fields.
 * @throws {ProtocolError} `truncated`, `trailing_bytes`, `padding_bits`, `invalid_utf8`,
 * `invalid_value`, `varint_overlong` or `varint_oversized`.
 *
 * @example
 * ```ts
 * import { BinaryReader, defineSchema, readMessage } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const Hit = defineSchema({
 *   name: "Hit",
 *   code: 3,
 *   version: 0,
 *   fields: { target: { id: 0, type: "uint8" }, fatal: { id: 1, type: "bool" } },
 * });
 * const hit = readMessage(new BinaryReader(new Uint8Array([0x80, 0x07])), Hit);
 * assert.deepEqual(hit, { target: 7, fatal: true });
 * ```
 */
export function readMessage<V extends object>(reader: BinaryReader, schema: Schema<V>): V {
  const bytes = reader.bytes;
  const bitsAt = reader.pos;
  const bitBytes = schema.bitBytes;
  if (reader.end - bitsAt < bitBytes) reader.bytesCopy(bitBytes); // throws truncated
  reader.pos += bitBytes;
  checkPadding(reader, schema, bitsAt);
  const out: Record<string, unknown> = {};
  const fields = schema.fields;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    if (field.presenceBit >= 0 && !bitAt(bytes, bitsAt, field.presenceBit)) {
      if (field.valueBit >= 0 && bitAt(bytes, bitsAt, field.valueBit)) {
        throw new ProtocolError(
          "padding_bits",
          `Cannot decode ${schema.name}.${field.name}: value bit set for an absent field`,
          { offset: reader.base + bitsAt },
        );
      }
      continue;
    }
    switch (field.type) {
      case "bool":
        out[field.name] = bitAt(bytes, bitsAt, field.valueBit);
        break;
      case "uint8":
        out[field.name] = reader.uint8();
        break;
      case "int8":
        out[field.name] = (reader.uint8() << 24) >> 24;
        break;
      case "uint16":
        out[field.name] = reader.uint16();
        break;
      case "int16":
        out[field.name] = (reader.uint16() << 16) >> 16;
        break;
      case "uint32":
        out[field.name] = reader.uint32();
        break;
      case "int32":
        out[field.name] = reader.uint32() | 0;
        break;
      case "varuint":
        out[field.name] = reader.varuint();
        break;
      case "varint": {
        const n = reader.varuint();
        out[field.name] = (n >>> 1) ^ -(n & 1);
        break;
      }
      case "float32":
        out[field.name] = readFinite(reader, schema, field, reader.float32());
        break;
      case "float64":
        out[field.name] = readFinite(reader, schema, field, reader.float64());
        break;
      case "single":
        out[field.name] = reader.uint8() / 255;
        break;
      case "radians": {
        const steps = reader.uint16();
        out[field.name] = (steps > 32768 ? steps - 65536 : steps) * RADIANS_STEP;
        break;
      }
      case "string": {
        const at = reader.offset;
        const length = reader.varuint();
        if (length > MAX_STRING_BYTES) throw tooLong(schema, field, length, at);
        out[field.name] = reader.utf8(length);
        break;
      }
      case "bytes": {
        const at = reader.offset;
        const length = reader.varuint();
        if (length > MAX_BYTES_LENGTH) throw tooLong(schema, field, length, at);
        out[field.name] = reader.bytesCopy(length);
        break;
      }
    }
  }
  if (reader.pos !== reader.end) {
    throw new ProtocolError(
      "trailing_bytes",
      `Cannot decode ${schema.name}: ${reader.end - reader.pos} bytes left after the last field`,
      { offset: reader.offset },
    );
  }
  return out as V;
}

function setBit(writer: BinaryWriter, at: number, bit: number): void {
  writer.bytes[at + (bit >> 3)]! |= 0x80 >> (bit & 7);
}

function bitAt(bytes: Uint8Array, at: number, bit: number): boolean {
  return (bytes[at + (bit >> 3)]! & (0x80 >> (bit & 7))) !== 0;
}

function checkPadding(reader: BinaryReader, schema: Schema<object>, bitsAt: number): void {
  const used = schema.bitCount & 7;
  if (used === 0) return;
  const last = reader.bytes[bitsAt + schema.bitBytes - 1]!;
  if ((last & (0xff >> used)) !== 0) {
    throw new ProtocolError(
      "padding_bits",
      `Cannot decode ${schema.name}: bits set beyond the schema's ${schema.bitCount} bits`,
      { offset: reader.base + bitsAt + schema.bitBytes - 1 },
    );
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.slice(0, 40));
  if (typeof value === "bigint") return `${value}n (a bigint)`;
  if (typeof value === "object") return value === null ? "null" : "an object";
  return String(value);
}

function wrongType(
  schema: Schema<object>,
  field: FieldLayout,
  value: unknown,
  expected: string,
): TypeError {
  return new TypeError(
    `Cannot encode ${schema.name}.${field.name}: expected ${expected} for ${field.type}, got ${
      describe(value)
    }`,
  );
}

function outOfRange(
  schema: Schema<object>,
  field: FieldLayout,
  value: unknown,
  range: string,
): RangeError {
  return new RangeError(
    `Cannot encode ${schema.name}.${field.name}: ${
      describe(value)
    } is out of range for ${field.type} (${range})`,
  );
}

function checkInteger(schema: Schema<object>, field: FieldLayout, value: unknown): number {
  if (typeof value !== "number") throw wrongType(schema, field, value, "a number");
  const [min, max] = INTEGER_RANGES[field.type]!;
  if (!Number.isInteger(value)) {
    throw new RangeError(
      `Cannot encode ${schema.name}.${field.name}: ${describe(value)} is not an integer`,
    );
  }
  if (value < min || value > max) throw outOfRange(schema, field, value, `${min}..${max}`);
  return value;
}

function checkFinite(schema: Schema<object>, field: FieldLayout, value: unknown): void {
  if (typeof value !== "number") throw wrongType(schema, field, value, "a number");
  if (!Number.isFinite(value)) {
    throw new RangeError(
      `Cannot encode ${schema.name}.${field.name}: ${describe(value)} is not a finite number`,
    );
  }
}

function writeString(
  writer: BinaryWriter,
  schema: Schema<object>,
  field: FieldLayout,
  value: string,
): void {
  if (!value.isWellFormed()) {
    throw new RangeError(
      `Cannot encode ${schema.name}.${field.name}: the string holds a lone surrogate`,
    );
  }
  const at = writer.length;
  const written = writer.string(value);
  if (written > MAX_STRING_BYTES) {
    writer.length = at;
    throw new RangeError(
      `Cannot encode ${schema.name}.${field.name}: ${written} UTF-8 bytes exceed the maximum of ${MAX_STRING_BYTES}`,
    );
  }
}

function readFinite(
  reader: BinaryReader,
  schema: Schema<object>,
  field: FieldLayout,
  value: number,
): number {
  if (!Number.isFinite(value)) {
    throw new ProtocolError(
      "invalid_value",
      `Cannot decode ${schema.name}.${field.name}: ${value} is not a finite number`,
      { offset: reader.offset - (field.type === "float32" ? 4 : 8) },
    );
  }
  return value;
}

function tooLong(
  schema: Schema<object>,
  field: FieldLayout,
  length: number,
  offset: number,
): ProtocolError {
  return new ProtocolError(
    "invalid_value",
    `Cannot decode ${schema.name}.${field.name}: length ${length} exceeds the maximum of ${
      field.type === "string" ? MAX_STRING_BYTES : MAX_BYTES_LENGTH
    }`,
    { offset },
  );
}
