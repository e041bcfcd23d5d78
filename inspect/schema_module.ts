/**
 * Loads an application's schemas from a module, for `deno task decode --schemas`.
 *
 * @module
 */

import { Schema, SchemaRegistry } from "../protocol/mod.ts";

/**
 * Collects the schemas a module exports: `Schema` values, `SchemaRegistry` values and arrays of
 * schemas, at the top level. Schemas made by another copy of the library (say, imported from JSR
 * while this tool runs from a checkout) are recognized by shape and rebuilt from their
 * definition.
 *
 * @param exports The module's namespace object.
 * @returns A registry of every schema found.
 * @throws {SchemaConflictError} When two exported schemas claim one code and version.
 *
 * @example
 * ```ts
 * import { defineSchema } from "@game-socket/game-socket/protocol";
 * import { schemasFromModule } from "@game-socket/game-socket/inspect";
 * import assert from "node:assert/strict";
 *
 * const Move = defineSchema({ name: "Move", code: 1, version: 0, fields: {} });
 * assert.equal(schemasFromModule({ Move, other: 3 }).size, 1);
 * ```
 */
export function schemasFromModule(exports: Record<string, unknown>): SchemaRegistry {
  const registry = new SchemaRegistry();
  const visit = (value: unknown): void => {
    if (value instanceof SchemaRegistry) {
      for (const schema of value) registry.register(schema);
    } else if (Array.isArray(value)) {
      for (const item of value) {
        if (asSchema(item) !== undefined) registry.register(asSchema(item)!);
      }
    } else {
      const schema = asSchema(value);
      if (schema !== undefined) registry.register(schema);
    }
  };
  for (const value of Object.values(exports)) visit(value);
  return registry;
}

function asSchema(value: unknown): Schema<object> | undefined {
  if (value instanceof Schema) return value;
  if (typeof value !== "object" || value === null) return undefined;
  const definition = (value as { definition?: unknown }).definition;
  if (
    typeof definition === "object" && definition !== null && "code" in definition &&
    "version" in definition && "fields" in definition && "name" in definition
  ) {
    return new Schema(definition as ConstructorParameters<typeof Schema>[0]);
  }
  return undefined;
}
