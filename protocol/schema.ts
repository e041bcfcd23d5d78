/**
 * Schemas: a message type declared once, as data, with its TypeScript types inferred.
 *
 * @module
 */

import { compileCodec, type MessageCodec } from "./compiled_codec.ts";
import { MAX_FIELD_ID, MAX_SCHEMA_CODE, MAX_SCHEMA_VERSION } from "./constants.ts";
import { type FieldType, type FieldValue, isFieldType } from "./field_types.ts";

/** One field of a schema, as declared. */
export interface FieldDefinition {
  /** The field's id, 0..255: fields travel in ascending id order. Never reuse an id. */
  readonly id: number;
  /** The field's type. */
  readonly type: FieldType;
  /**
   * Whether the field may be absent. An absent field costs one presence bit and no bytes.
   *
   * @default {false}
   */
  readonly optional?: boolean;
}

/** The fields of a schema, by name. */
export type FieldDefinitions = { readonly [name: string]: FieldDefinition };

/** A schema as declared: what {@linkcode defineSchema} takes. */
export interface SchemaDefinition<F extends FieldDefinitions = FieldDefinitions> {
  /** A name for people: it appears in error messages and in the packet inspector. */
  readonly name: string;
  /** The schema's code, 0..255. With the version, it names the schema on the wire. */
  readonly code: number;
  /** The schema's version, 0..255: raise it when the fields change. */
  readonly version: number;
  /** The fields, by name. */
  readonly fields: F;
  /**
   * How messages of this schema travel when `send` does not say: `reliable` (TCP), or over
   * UDP where the connection has a UDP path, `unreliable` or `sequenced` (see
   * {@linkcode Delivery}). It does not change the wire format or the fingerprint.
   *
   * @default {"reliable"}
   */
  readonly delivery?: Delivery;
}

/**
 * How a message travels:
 * - `reliable`: over TCP, complete and in order;
 * - `unreliable`: over UDP, may be lost or reordered, never duplicated;
 * - `sequenced`: over UDP, latest only: a datagram older than the last one delivered for the
 *   same event (or message schema) on the same namespace is dropped.
 */
export type Delivery = "reliable" | "unreliable" | "sequenced";

/** Every delivery class. */
export const DELIVERIES: ReadonlySet<Delivery> = new Set(["reliable", "unreliable", "sequenced"]);

/**
 * The value of a message of a schema with fields `F`: required fields as properties, optional
 * fields as optional properties.
 *
 * @example
 * ```ts
 * import type { SchemaValue } from "@game-socket/game-socket/protocol";
 *
 * type Fields = {
 *   x: { id: 0; type: "int16" };
 *   name: { id: 1; type: "string"; optional: true };
 * };
 * const value: SchemaValue<Fields> = { x: 3 }; // { x: number; name?: string }
 * ```
 */
export type SchemaValue<F extends FieldDefinitions> =
  & {
    -readonly [K in keyof F as F[K] extends { readonly optional: true } ? never : K]: FieldValue<
      F[K]["type"]
    >;
  }
  & {
    -readonly [K in keyof F as F[K] extends { readonly optional: true } ? K : never]?: FieldValue<
      F[K]["type"]
    >;
  };

/** A field of a schema, as the codec sees it: its declaration plus where its bits go. */
export interface FieldLayout {
  /** The field's name. */
  readonly name: string;
  /** The field's id. */
  readonly id: number;
  /** The field's type. */
  readonly type: FieldType;
  /** Whether the field may be absent. */
  readonly optional: boolean;
  /** The index of the field's presence bit in the bit section, or -1 when it is required. */
  readonly presenceBit: number;
  /** The index of a bool field's value bit in the bit section, or -1 for other types. */
  readonly valueBit: number;
}

/**
 * A message type: code, version, name and fields, checked and laid out for the codec.
 *
 * `V` is the type of a message's value. Make schemas with {@linkcode defineSchema}, which infers
 * `V` from the fields.
 *
 * @typeParam V The value a message of this schema carries.
 */
export class Schema<V extends object = Record<string, unknown>> {
  /** A name for people. */
  readonly name: string;
  /** The schema's code, 0..255. */
  readonly code: number;
  /** The schema's version, 0..255. */
  readonly version: number;
  /** The fields in wire order (ascending id). */
  readonly fields: readonly FieldLayout[];
  /** How many bits the bit section holds: one per optional field, one per bool field. */
  readonly bitCount: number;
  /** How many bytes the bit section takes: `ceil(bitCount / 8)`. */
  readonly bitBytes: number;
  /** The schema as declared. */
  readonly definition: SchemaDefinition;
  /** The compiled encoder and decoder of this schema's message body. */
  readonly codec: MessageCodec;
  /**
   * Phantom member that ties `V` to the schema (never set at run time).
   *
   * @ignore
   */
  declare readonly valueType?: V;

  /**
   * Checks a definition and lays out its fields. Prefer {@linkcode defineSchema}, which also
   * infers `V`.
   *
   * @param definition The schema as declared.
   * @throws {TypeError} When the definition is malformed.
   * @throws {RangeError} When a code, version or field id is out of range or repeated.
   */
  constructor(definition: SchemaDefinition) {
    const { name, code, version, fields } = definition;
    if (typeof name !== "string" || name.length === 0) {
      throw new TypeError("Cannot define schema: name must be a non-empty string");
    }
    checkByte(code, MAX_SCHEMA_CODE, `Cannot define schema ${name}: code`);
    checkByte(version, MAX_SCHEMA_VERSION, `Cannot define schema ${name}: version`);
    const delivery = definition.delivery;
    if (delivery !== undefined && !DELIVERIES.has(delivery)) {
      throw new TypeError(
        `Cannot define schema ${name}: delivery must be reliable, unreliable or sequenced`,
      );
    }
    if (typeof fields !== "object" || fields === null) {
      throw new TypeError(`Cannot define schema ${name}: fields must be an object`);
    }
    const declared = Object.entries(fields).map(([fieldName, field]) =>
      checkField(name, fieldName, field)
    ).sort((a, b) => a.id - b.id);
    for (let i = 1; i < declared.length; i++) {
      if (declared[i]!.id === declared[i - 1]!.id) {
        throw new RangeError(
          `Cannot define schema ${name}: fields ${declared[i - 1]!.name} and ${
            declared[i]!.name
          } share id ${declared[i]!.id}`,
        );
      }
    }
    let bit = 0;
    const withPresence = declared.map((field) => ({
      ...field,
      presenceBit: field.optional ? bit++ : -1,
      valueBit: -1,
    }));
    for (const field of withPresence) {
      if (field.type === "bool") field.valueBit = bit++;
    }
    this.name = name;
    this.code = code;
    this.version = version;
    this.fields = withPresence.map((field) => Object.freeze(field));
    this.bitCount = bit;
    this.bitBytes = (bit + 7) >> 3;
    this.definition = definition;
    Object.freeze(this.fields);
    this.codec = compileCodec(this);
  }

  /** The schema as `name code.version`, for logs. */
  toString(): string {
    return `${this.name} ${this.code}.${this.version}`;
  }
}

/**
 * Declares a schema. The value type is inferred from the fields, so `encode` and `decode` are
 * typed without casts or code generation.
 *
 * To export a schema from a package published on JSR (which refuses inferred types on exports),
 * annotate it with an interface of its value: `export const S: Schema<SValue> = defineSchema(...)`.
 * The compiler then checks that the interface and the fields agree.
 *
 * @param definition The schema's name, code, version and fields.
 * @returns The checked schema.
 * @throws {TypeError} When the definition is malformed (unknown type, bad name).
 * @throws {RangeError} When a code, version or field id is out of range or repeated.
 *
 * @example
 * ```ts
 * import { defineSchema, type Schema } from "@game-socket/game-socket/protocol";
 *
 * interface PlayerState {
 *   id: number;
 *   x: number;
 *   alive: boolean;
 *   name?: string;
 * }
 *
 * export const PlayerState: Schema<PlayerState> = defineSchema({
 *   name: "PlayerState",
 *   code: 10,
 *   version: 0,
 *   fields: {
 *     id: { id: 0, type: "uint16" },
 *     x: { id: 1, type: "int16" },
 *     alive: { id: 2, type: "bool" },
 *     name: { id: 3, type: "string", optional: true },
 *   },
 * });
 * ```
 */
export function defineSchema<const F extends FieldDefinitions>(
  definition: SchemaDefinition<F>,
): Schema<SchemaValue<F>> {
  return new Schema<SchemaValue<F>>(definition);
}

/**
 * The value type of a schema.
 *
 * @example
 * ```ts
 * import { defineSchema, type ValueOf } from "@game-socket/game-socket/protocol";
 *
 * const Move = defineSchema({
 *   name: "Move",
 *   code: 1,
 *   version: 0,
 *   fields: { dx: { id: 0, type: "int8" } },
 * });
 * const move: ValueOf<typeof Move> = { dx: -1 };
 * ```
 */
export type ValueOf<S> = S extends Schema<infer V> ? V : never;

function checkByte(value: unknown, max: number, what: string): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${what} must be an integer in 0..${max}, got ${String(value)}`);
  }
}

function checkField(
  schema: string,
  name: string,
  field: FieldDefinition,
): { name: string; id: number; type: FieldType; optional: boolean } {
  const what = `Cannot define schema ${schema}: field ${name}`;
  // Names every object inherits (`__proto__`, `constructor`, `toString`...) are refused: an
  // absent field of that name would read as the inherited member.
  if (name.length === 0 || Object.hasOwn(Object.prototype, name)) {
    throw new TypeError(`${what}: name is not allowed`);
  }
  if (typeof field !== "object" || field === null) {
    throw new TypeError(`${what} must be an object with id and type`);
  }
  checkByte(field.id, MAX_FIELD_ID, `${what}: id`);
  if (!isFieldType(field.type)) {
    throw new TypeError(`${what}: unknown type ${JSON.stringify(field.type)}`);
  }
  if (field.optional !== undefined && typeof field.optional !== "boolean") {
    throw new TypeError(`${what}: optional must be a boolean`);
  }
  return { name, id: field.id, type: field.type, optional: field.optional === true };
}
