/**
 * The field types a schema can use, and the JavaScript value each one carries.
 *
 * @module
 */

/**
 * The name of a field type. Wire layout and ranges are in docs/PROTOCOL.md ("Field types").
 *
 * | type | wire | values |
 * | --- | --- | --- |
 * | `bool` | one bit | `true`, `false` |
 * | `int8` / `uint8` | 1 byte | -128..127 / 0..255 |
 * | `int16` / `uint16` | 2 bytes, big-endian | -32768..32767 / 0..65535 |
 * | `int32` / `uint32` | 4 bytes, big-endian | -2^31..2^31-1 / 0..2^32-1 |
 * | `varuint` | LEB128, 1–5 bytes | 0..2^32-1 |
 * | `varint` | zigzag LEB128, 1–5 bytes | -2^31..2^31-1 |
 * | `float32` / `float64` | 4 / 8 bytes, IEEE 754 big-endian | finite numbers |
 * | `single` | 1 byte | 0..1 in steps of 1/255 |
 * | `radians` | 2 bytes | any finite angle, normalized to (-π, π], steps of π/32768 |
 * | `string` | varuint length + UTF-8 | up to 65535 bytes of UTF-8 |
 * | `bytes` | varuint length + bytes | up to 65535 bytes |
 */
export type FieldType =
  | "bool"
  | "int8"
  | "uint8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "varuint"
  | "varint"
  | "float32"
  | "float64"
  | "single"
  | "radians"
  | "string"
  | "bytes";

/** The JavaScript type of a field of type `T`. */
export type FieldValue<T extends FieldType> = T extends "bool" ? boolean
  : T extends "string" ? string
  : T extends "bytes" ? Uint8Array
  : number;

/** Every field type name, in the order of their numeric tags. */
export const FIELD_TYPES: readonly FieldType[] = [
  "bool",
  "int8",
  "uint8",
  "int16",
  "uint16",
  "int32",
  "uint32",
  "varuint",
  "varint",
  "float32",
  "float64",
  "single",
  "radians",
  "string",
  "bytes",
];

/** The inclusive integer range of each integer type. */
export const INTEGER_RANGES: Readonly<Partial<Record<FieldType, readonly [number, number]>>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  varuint: [0, 4294967295],
  varint: [-2147483648, 2147483647],
};

/** The largest finite float32 value. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** The quantization step of a `single` field: 1/255. */
export const SINGLE_STEP: number = 1 / 255;

/** The quantization step of a `radians` field: π/32768. */
export const RADIANS_STEP: number = Math.PI / 32768;

/**
 * The wire value of an angle: its number of `RADIANS_STEP` steps, modulo 65536. The angle is
 * first reduced modulo 2π (exact on doubles), so that no finite angle overflows.
 *
 * @param angle A finite angle in radians.
 * @returns 0..65535.
 *
 * @example
 * ```ts
 * import { radiansToUnits } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.equal(radiansToUnits(Math.PI / 2), 16384);
 * assert.equal(radiansToUnits(-Math.PI), 32768); // decodes as π
 * assert.equal(radiansToUnits(-Math.PI / 2), 49152);
 * ```
 */
export function radiansToUnits(angle: number): number {
  const steps = Math.round((angle % (2 * Math.PI)) / RADIANS_STEP) % 65536;
  return steps < 0 ? steps + 65536 : steps;
}

/**
 * Tells whether a string names a field type.
 *
 * @param type The value to test.
 * @returns `true` when `type` is one of {@linkcode FIELD_TYPES}.
 *
 * @example
 * ```ts
 * import { isFieldType } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isFieldType("int16"), true);
 * assert.equal(isFieldType("int64"), false);
 * ```
 */
export function isFieldType(type: unknown): type is FieldType {
  return typeof type === "string" && (FIELD_TYPES as readonly string[]).includes(type);
}
