/**
 * Compiles a schema's fields into a specialized encoder and decoder of its message body.
 *
 * The generated code is the fast path: straight-line reads and writes at known offsets, one
 * object literal per decoded message. It only checks whether input is valid; when it is not, it
 * hands the same input to the reference codec in `message_codec.ts`, which throws the precise
 * error (schema, field, code, offset). Both must agree on every input: a randomized test compares
 * them. Code is generated only from the schema's own declaration (field names are quoted with
 * `JSON.stringify`), never from received bytes.
 *
 * @module
 */

import { BinaryReader } from "./binary_reader.ts";
import type { BinaryWriter } from "./binary_writer.ts";
import { MAX_BYTES_LENGTH, MAX_STRING_BYTES } from "./constants.ts";
import { FLOAT32_MAX, RADIANS_STEP } from "./field_types.ts";
import { readMessage, writeMessage } from "./message_codec.ts";
import type { FieldLayout, Schema } from "./schema.ts";

/** The compiled encoder and decoder of one schema's message body. */
export interface MessageCodec {
  /**
   * Appends a message body to `writer`; on an error nothing is appended.
   *
   * @throws {TypeError} When a field is missing or has the wrong type.
   * @throws {RangeError} When a value is out of range.
   */
  write(writer: BinaryWriter, value: object): void;
  /**
   * Reads a message body from `bytes[start, end)`; `base` is the stream offset of `bytes[0]`.
   *
   * @throws {ProtocolError} When the bytes are not a valid body.
   */
  read(bytes: Uint8Array, start: number, end: number, base: number): Record<string, unknown>;
}

const scratch = new DataView(new ArrayBuffer(8));
const textEncoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Helpers the generated code calls; `next` carries a second return value (the position). */
const helpers = {
  next: 0,
  /** Writes a varuint at `p`; returns the new position. */
  writeVaruint(b: Uint8Array, p: number, value: number): number {
    while (value > 0x7f) {
      b[p++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    b[p++] = value;
    return p;
  },
  /** Writes a string with its length prefix at `p`; returns the new position, or -1 if too long. */
  writeString(b: Uint8Array, p: number, s: string): number {
    const n = s.length;
    if (n < 0x80) {
      let i = 0;
      for (; i < n; i++) {
        const unit = s.charCodeAt(i);
        if (unit >= 0x80) break;
        b[p + 1 + i] = unit;
      }
      if (i === n) {
        b[p] = n;
        return p + 1 + n;
      }
    }
    // Room for the longest prefix (3 bytes) was reserved; move the text left if it is shorter.
    const written = textEncoder.encodeInto(s, b.subarray(p + 3)).written;
    if (written > MAX_STRING_BYTES) return -1;
    const prefix = written < 0x80 ? 1 : written < 0x4000 ? 2 : 3;
    if (prefix < 3) b.copyWithin(p + prefix, p + 3, p + 3 + written);
    helpers.writeVaruint(b, p, written);
    return p + prefix + written;
  },
  writeFloat32(b: Uint8Array, p: number, value: number): void {
    scratch.setFloat32(0, value);
    b[p] = scratch.getUint8(0);
    b[p + 1] = scratch.getUint8(1);
    b[p + 2] = scratch.getUint8(2);
    b[p + 3] = scratch.getUint8(3);
  },
  writeFloat64(b: Uint8Array, p: number, value: number): void {
    scratch.setFloat64(0, value);
    for (let i = 0; i < 8; i++) b[p + i] = scratch.getUint8(i);
  },
  readFloat32(b: Uint8Array, p: number): number {
    for (let i = 0; i < 4; i++) scratch.setUint8(i, b[p + i]!);
    return scratch.getFloat32(0);
  },
  readFloat64(b: Uint8Array, p: number): number {
    for (let i = 0; i < 8; i++) scratch.setUint8(i, b[p + i]!);
    return scratch.getFloat64(0);
  },
  /** Reads a canonical varuint of at most 5 bytes and 2^32-1; returns -1 on any fault. */
  readVaruint(b: Uint8Array, p: number, end: number): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 5 && p < end; i++) {
      const byte = b[p++]!;
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) {
        if (byte === 0 && i > 0) return -1;
        helpers.next = p;
        return value > 0xffff_ffff ? -1 : value;
      }
    }
    return -1;
  },
  /** Reads a length-prefixed UTF-8 string; returns `undefined` on any fault. */
  readString(b: Uint8Array, p: number, end: number): string | undefined {
    const n = helpers.readVaruint(b, p, end);
    if (n < 0 || n > MAX_STRING_BYTES) return undefined;
    p = helpers.next;
    const stop = p + n;
    if (stop > end) return undefined;
    helpers.next = stop;
    if (n <= 32) {
      let ascii = true;
      for (let i = p; i < stop; i++) {
        if (b[i]! >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) return String.fromCharCode.apply(null, b.subarray(p, stop) as never);
    }
    try {
      return utf8.decode(b.subarray(p, stop));
    } catch {
      return undefined;
    }
  },
  /** Reads length-prefixed bytes as a copy; returns `undefined` on any fault. */
  readBytes(b: Uint8Array, p: number, end: number): Uint8Array | undefined {
    const n = helpers.readVaruint(b, p, end);
    if (n < 0 || n > MAX_BYTES_LENGTH) return undefined;
    p = helpers.next;
    if (p + n > end) return undefined;
    helpers.next = p + n;
    return b.slice(p, p + n);
  },
};

type Helpers = typeof helpers;

/** Byte sizes of the fixed-size types. */
const FIXED_SIZE: Partial<Record<FieldLayout["type"], number>> = {
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  float64: 8,
  single: 1,
  radians: 2,
};

/** A JavaScript expression that is true when `v` is a valid value of the field's type. */
function validExpression(type: FieldLayout["type"], v: string): string {
  const number = `typeof ${v} === "number"`;
  switch (type) {
    case "bool":
      return `(${v} === true || ${v} === false)`;
    case "int8":
      return `${number} && (${v} | 0) === ${v} && ${v} >= -128 && ${v} <= 127`;
    case "uint8":
      return `${number} && (${v} >>> 0) === ${v} && ${v} <= 255`;
    case "int16":
      return `${number} && (${v} | 0) === ${v} && ${v} >= -32768 && ${v} <= 32767`;
    case "uint16":
      return `${number} && (${v} >>> 0) === ${v} && ${v} <= 65535`;
    case "int32":
    case "varint":
      return `${number} && (${v} | 0) === ${v}`;
    case "uint32":
    case "varuint":
      return `${number} && (${v} >>> 0) === ${v}`;
    case "float32":
      return `${number} && ${v} >= -${FLOAT32_MAX} && ${v} <= ${FLOAT32_MAX}`;
    case "float64":
    case "radians":
      return `${number} && ${v} - ${v} === 0`;
    case "single":
      return `${number} && ${v} >= 0 && ${v} <= 1`;
    case "string":
      return `typeof ${v} === "string" && ${v}.isWellFormed()`;
    case "bytes":
      return `${v} instanceof Uint8Array && ${v}.length <= ${MAX_BYTES_LENGTH}`;
  }
}

/** Statements that write `v` at `p` and advance `p` (room was reserved). */
function writeStatements(type: FieldLayout["type"], v: string): string {
  switch (type) {
    case "bool":
      return "";
    case "int8":
    case "uint8":
      return `b[p++] = ${v};`;
    case "int16":
    case "uint16":
      return `b[p++] = ${v} >> 8; b[p++] = ${v};`;
    case "int32":
    case "uint32":
      return `b[p++] = ${v} >>> 24; b[p++] = ${v} >>> 16; b[p++] = ${v} >>> 8; b[p++] = ${v};`;
    case "varuint":
      return `p = H.writeVaruint(b, p, ${v});`;
    case "varint":
      return `p = H.writeVaruint(b, p, ((${v} << 1) ^ (${v} >> 31)) >>> 0);`;
    case "float32":
      return `H.writeFloat32(b, p, ${v}); p += 4;`;
    case "float64":
      return `H.writeFloat64(b, p, ${v}); p += 8;`;
    case "single":
      return `b[p++] = Math.round(${v} * 255);`;
    case "radians":
      // Inlined radiansToUnits (field_types.ts): reduce modulo 2π, then count steps.
      return `{ let r = Math.round((${v} % ${2 * Math.PI}) / ${RADIANS_STEP}) % 65536; ` +
        `if (r < 0) r += 65536; ` +
        `b[p++] = r >> 8; b[p++] = r; }`;
    case "string":
      return `p = H.writeString(b, p, ${v}); if (p < 0) return slowWrite(w, S, v);`;
    case "bytes":
      return `p = H.writeVaruint(b, p, ${v}.length); b.set(${v}, p); p += ${v}.length;`;
  }
}

/** The most bytes a value `v` of the type can take, as an expression. */
function maxSizeExpression(type: FieldLayout["type"], v: string): string {
  const fixed = FIXED_SIZE[type];
  if (fixed !== undefined) return String(fixed);
  switch (type) {
    case "bool":
      return "0";
    case "string":
      return `3 + 3 * ${v}.length`;
    case "bytes":
      return `3 + ${v}.length`;
    default: // varuint, varint
      return "5";
  }
}

/** Statements that read field `v` at `p`, advancing `p`, or bail out to the reference codec. */
function readStatements(field: FieldLayout, v: string, bits: string): string {
  const size = FIXED_SIZE[field.type];
  const bounds = size === undefined
    ? ""
    : `if (p + ${size} > end) return slowRead(b, s, end, base); `;
  switch (field.type) {
    case "bool":
      return `${v} = (${bits}) !== 0;`;
    case "uint8":
      return `${bounds}${v} = b[p++];`;
    case "int8":
      return `${bounds}${v} = (b[p++] << 24) >> 24;`;
    case "uint16":
      return `${bounds}${v} = (b[p] << 8) | b[p + 1]; p += 2;`;
    case "int16":
      return `${bounds}${v} = ((b[p] << 24) >> 16) | b[p + 1]; p += 2;`;
    case "uint32":
      return `${bounds}${v} = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0; p += 4;`;
    case "int32":
      return `${bounds}${v} = (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]; p += 4;`;
    case "float32":
      return `${bounds}${v} = H.readFloat32(b, p); p += 4; ` +
        `if (${v} - ${v} !== 0) return slowRead(b, s, end, base);`;
    case "float64":
      return `${bounds}${v} = H.readFloat64(b, p); p += 8; ` +
        `if (${v} - ${v} !== 0) return slowRead(b, s, end, base);`;
    case "single":
      return `${bounds}${v} = b[p++] / 255;`;
    case "radians":
      return `${bounds}{ const r = (b[p] << 8) | b[p + 1]; p += 2; ` +
        `${v} = (r > 32768 ? r - 65536 : r) * ${RADIANS_STEP}; }`;
    case "varuint":
      return `${v} = H.readVaruint(b, p, end); if (${v} < 0) return slowRead(b, s, end, base); p = H.next;`;
    case "varint":
      return `{ const n = H.readVaruint(b, p, end); if (n < 0) return slowRead(b, s, end, base); ` +
        `p = H.next; ${v} = (n >>> 1) ^ -(n & 1); }`;
    case "string":
      return `${v} = H.readString(b, p, end); ` +
        `if (${v} === undefined) return slowRead(b, s, end, base); p = H.next;`;
    case "bytes":
      return `${v} = H.readBytes(b, p, end); ` +
        `if (${v} === undefined) return slowRead(b, s, end, base); p = H.next;`;
  }
}

/** `(bits byte & mask)` for bit `index` of the bit section, which starts at `s`. */
function bitExpression(index: number): string {
  return `(b[s + ${index >> 3}] & ${0x80 >> (index & 7)})`;
}

function generateWrite(schema: Schema<object>): string {
  const fields = schema.fields;
  const lines: string[] = ['if (typeof v !== "object" || v === null) return slowWrite(w, S, v);'];
  fields.forEach((field, i) => lines.push(`const f${i} = v[${JSON.stringify(field.name)}];`));
  const checks = fields.map((field, i) => {
    const valid = validExpression(field.type, `f${i}`);
    return field.optional ? `(f${i} === undefined || (${valid}))` : `(${valid})`;
  });
  if (checks.length > 0) lines.push(`if (!(${checks.join(" && ")})) return slowWrite(w, S, v);`);
  const sizes = [String(schema.bitBytes)];
  fields.forEach((field, i) => {
    const size = maxSizeExpression(field.type, `f${i}`);
    if (size === "0") return;
    sizes.push(field.optional ? `(f${i} === undefined ? 0 : ${size})` : size);
  });
  lines.push(`w.reserve(${sizes.join(" + ")});`);
  lines.push("const b = w.bytes; let p = w.length;");
  for (let byte = 0; byte < schema.bitBytes; byte++) {
    const parts = ["0"];
    fields.forEach((field, i) => {
      if (field.presenceBit >> 3 === byte) {
        parts.push(`(f${i} !== undefined ? ${0x80 >> (field.presenceBit & 7)} : 0)`);
      }
      if (field.valueBit >= 0 && field.valueBit >> 3 === byte) {
        parts.push(`(f${i} === true ? ${0x80 >> (field.valueBit & 7)} : 0)`);
      }
    });
    lines.push(`b[p++] = ${parts.join(" | ")};`);
  }
  fields.forEach((field, i) => {
    const write = writeStatements(field.type, `f${i}`);
    if (write === "") return;
    lines.push(field.optional ? `if (f${i} !== undefined) { ${write} }` : write);
  });
  lines.push("w.length = p;");
  return lines.join("\n");
}

function generateRead(schema: Schema<object>): string {
  const fields = schema.fields;
  const lines: string[] = ["const s = p;"];
  if (schema.bitBytes > 0) {
    lines.push(`if (end - p < ${schema.bitBytes}) return slowRead(b, s, end, base);`);
    const used = schema.bitCount & 7;
    if (used !== 0) {
      lines.push(
        `if ((b[s + ${schema.bitBytes - 1}] & ${
          0xff >> used
        }) !== 0) return slowRead(b, s, end, base);`,
      );
    }
    lines.push(`p += ${schema.bitBytes};`);
  }
  fields.forEach((field, i) => {
    const present = field.presenceBit >= 0 ? bitExpression(field.presenceBit) : "";
    const read = readStatements(field, `f${i}`, bitExpression(field.valueBit));
    if (!field.optional) {
      lines.push(`let f${i}; ${read}`);
    } else if (field.type === "bool") {
      // An absent bool must leave its value bit clear.
      lines.push(
        `let f${i}; if (${present} !== 0) { ${read} } ` +
          `else if (${bitExpression(field.valueBit)} !== 0) return slowRead(b, s, end, base);`,
      );
    } else {
      lines.push(`let f${i}; if (${present} !== 0) { ${read} }`);
    }
  });
  lines.push("if (p !== end) return slowRead(b, s, end, base);");
  const required = fields.flatMap((field, i) =>
    field.optional ? [] : [`${JSON.stringify(field.name)}: f${i}`]
  );
  lines.push(`const o = { ${required.join(", ")} };`);
  fields.forEach((field, i) => {
    if (field.optional) {
      lines.push(`if (f${i} !== undefined) o[${JSON.stringify(field.name)}] = f${i};`);
    }
  });
  lines.push("return o;");
  return lines.join("\n");
}

/**
 * Compiles the encoder and decoder of a schema's message body. Where code generation is
 * forbidden, returns the reference codec instead.
 *
 * @param schema The schema.
 * @returns Its codec.
 */
export function compileCodec(schema: Schema<object>): MessageCodec {
  const slowWrite = (w: BinaryWriter, S: Schema<object>, v: object): void => writeMessage(w, S, v);
  const slowRead = (b: Uint8Array, start: number, end: number, base: number) =>
    readMessage(new BinaryReader(b, start, end, base), schema) as Record<string, unknown>;
  let makeWrite, makeRead;
  try {
    makeWrite = new Function(
      "H",
      "S",
      "slowWrite",
      `return function write(w, v) {\n${generateWrite(schema)}\n};`,
    ) as (H: Helpers, S: Schema<object>, slow: typeof slowWrite) => MessageCodec["write"];
    makeRead = new Function(
      "H",
      "slowRead",
      `return function read(b, p, end, base) {\n${generateRead(schema)}\n};`,
    ) as (H: Helpers, slow: typeof slowRead) => MessageCodec["read"];
  } catch (error) {
    // Where code generation is forbidden (a Content-Security-Policy without 'unsafe-eval'),
    // the reference codec does the same work, only slower.
    if (!(error instanceof EvalError)) throw error;
    return { write: (w, v) => slowWrite(w, schema, v), read: slowRead };
  }
  return { write: makeWrite(helpers, schema, slowWrite), read: makeRead(helpers, slowRead) };
}
