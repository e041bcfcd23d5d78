import assert from "node:assert/strict";
import { defineSchema, Schema, SchemaConflictError, SchemaRegistry } from "../protocol/mod.ts";
import { schemasFromModule } from "../inspect/mod.ts";

const A = defineSchema({ name: "A", code: 1, version: 0, fields: { x: { id: 0, type: "int8" } } });
const B = defineSchema({ name: "B", code: 2, version: 0, fields: {} });
const C = defineSchema({ name: "C", code: 3, version: 1, fields: {} });

Deno.test("schemasFromModule collects schemas, arrays of schemas and registries", () => {
  const registry = schemasFromModule({
    A,
    list: [B, 42, "not a schema"],
    registry: new SchemaRegistry([C]),
    other: { name: "x" },
    nothing: null,
  });
  assert.deepEqual([...registry], [A, B, C]);
});

Deno.test("schemasFromModule rebuilds schemas made by another copy of the library", () => {
  // A schema object from another copy fails instanceof but has the same shape.
  const foreign = { ...A, definition: A.definition };
  assert.equal(foreign instanceof Schema, false);
  const registry = schemasFromModule({ foreign });
  const rebuilt = registry.get(1, 0);
  assert.ok(rebuilt instanceof Schema);
  assert.equal(registry.fingerprint, new SchemaRegistry([A]).fingerprint);
});

Deno.test("schemasFromModule throws SchemaConflictError for two schemas on one code", () => {
  const clash = defineSchema({ name: "Clash", code: 1, version: 0, fields: {} });
  assert.throws(() => schemasFromModule({ A, clash }), SchemaConflictError);
});
