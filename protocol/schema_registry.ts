/**
 * The set of application schemas a connection understands.
 *
 * @module
 */

import { SchemaConflictError } from "./errors.ts";
import type { Schema } from "./schema.ts";

/**
 * Resolves a schema by code and version. Registering a different schema under a code and version
 * that are taken is an error; registering the same one again is not.
 *
 * @example
 * ```ts
 * import { defineSchema, SchemaRegistry } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const Move = defineSchema({ name: "Move", code: 1, version: 0, fields: {} });
 * const registry = new SchemaRegistry([Move]);
 * assert.equal(registry.get(1, 0), Move);
 * assert.equal(registry.get(1, 1), undefined);
 * assert.match(registry.fingerprint, /^[0-9a-f]{16}$/);
 * ```
 */
export class SchemaRegistry implements Iterable<Schema<object>> {
  #byKey = new Map<number, Schema<object>>();
  /** The same schemas indexed by code, then version: the decoder's lookup, kept flat for speed. */
  #byCode: (Schema<object>[] | undefined)[] = [];
  #fingerprint: string | undefined;

  /**
   * Creates a registry holding `schemas`.
   *
   * @param schemas The schemas to register.
   * @throws {SchemaConflictError} When two of them claim one code and version.
   */
  constructor(schemas: Iterable<Schema<object>> = []) {
    for (const schema of schemas) this.register(schema);
  }

  /**
   * Adds a schema.
   *
   * @param schema The schema.
   * @returns This registry.
   * @throws {SchemaConflictError} When another schema holds the same code and version.
   */
  register(schema: Schema<object>): this {
    const key = (schema.code << 8) | schema.version;
    const existing = this.#byKey.get(key);
    if (existing === undefined) {
      this.#byKey.set(key, schema);
      (this.#byCode[schema.code] ??= [])[schema.version] = schema;
      this.#fingerprint = undefined;
      return this;
    }
    if (existing !== schema && describeSchema(existing) !== describeSchema(schema)) {
      throw new SchemaConflictError(
        schema.code,
        schema.version,
        `Cannot register schema ${schema.name}: ${schema.code}.${schema.version} is taken by ${existing.name}`,
      );
    }
    return this;
  }

  /**
   * Finds a schema.
   *
   * @param code The schema code.
   * @param version The schema version.
   * @returns The schema, or `undefined` when none is registered.
   */
  get(code: number, version: number): Schema<object> | undefined {
    return this.#byCode[code]?.[version];
  }

  /**
   * Tells whether this exact schema object is registered.
   *
   * @param schema The schema.
   * @returns `true` when `schema` is the one registered under its code and version.
   */
  has(schema: Schema<object>): boolean {
    return this.#byCode[schema.code]?.[schema.version] === schema;
  }

  /** How many schemas are registered. */
  get size(): number {
    return this.#byKey.size;
  }

  /**
   * A 64-bit FNV-1a hash (16 hex digits) of every registered schema's code, version, name and
   * fields, in code order. Two builds agree on it exactly when their schema sets agree; the
   * handshake compares it so a mismatched client is refused at connect.
   */
  get fingerprint(): string {
    return this.#fingerprint ??= fnv1a64(
      [...this].map(describeSchema).join("\n"),
    );
  }

  /** Yields the schemas in code, then version, order. */
  *[Symbol.iterator](): Iterator<Schema<object>> {
    yield* [...this.#byKey.entries()].sort((a, b) => a[0] - b[0]).map(([, schema]) => schema);
  }
}

/**
 * A schema's canonical one-line description: what its fingerprint hashes.
 *
 * @param schema The schema.
 * @returns `code.version name {id:name:type[?] ...}` with fields in id order; a name that is not
 * an identifier is written as a JSON string.
 *
 * @example
 * ```ts
 * import { defineSchema, describeSchema } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const Move = defineSchema({
 *   name: "Move",
 *   code: 1,
 *   version: 0,
 *   fields: { dx: { id: 0, type: "int8" }, tag: { id: 1, type: "string", optional: true } },
 * });
 * assert.equal(describeSchema(Move), "1.0 Move {0:dx:int8 1:tag:string?}");
 * ```
 */
export function describeSchema(schema: Schema<object>): string {
  const fields = schema.fields.map((f) =>
    `${f.id}:${quoteName(f.name)}:${f.type}${f.optional ? "?" : ""}`
  );
  return `${schema.code}.${schema.version} ${quoteName(schema.name)} {${fields.join(" ")}}`;
}

/** A name as it is when it is an identifier, else as a JSON string, so that no two collide. */
function quoteName(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name);
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK_64 = 0xffffffffffffffffn;

function fnv1a64(text: string): string {
  let hash = FNV_OFFSET;
  for (const byte of new TextEncoder().encode(text)) {
    hash = ((hash ^ BigInt(byte)) * FNV_PRIME) & MASK_64;
  }
  return hash.toString(16).padStart(16, "0");
}
