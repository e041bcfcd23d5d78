import assert from "node:assert/strict";
import {
  BinaryWriter,
  defineSchema,
  describeSchema,
  type FieldDefinitions,
  type Schema,
  SchemaConflictError,
  type SchemaDefinition,
  SchemaRegistry,
} from "../protocol/mod.ts";

/** Builds a schema from a definition the type checker would refuse. */
function define(definition: unknown): Schema<object> {
  return defineSchema(definition as SchemaDefinition<FieldDefinitions>);
}

const base = { name: "PlayerState", code: 10, version: 0 };
const oneField = { x: { id: 0, type: "int16" } };

// ---------------------------------------------------------------------------------------------
// defineSchema validation

Deno.test("defineSchema refuses a name that is not a non-empty string with a TypeError", () => {
  for (const name of ["", 42, undefined, null, ["A"]]) {
    assert.throws(() => define({ ...base, name, fields: oneField }), TypeError, String(name));
  }
});

Deno.test("defineSchema refuses a code or version outside 0..255 or not an integer with a RangeError", () => {
  const bad = [-1, 256, 1.5, NaN, Infinity, -0.5, "1", undefined, null, 1n];
  for (const value of bad) {
    assert.throws(() => define({ ...base, code: value, fields: oneField }), RangeError);
    assert.throws(() => define({ ...base, code: value, fields: oneField }), {
      name: "RangeError",
      message: /PlayerState: code/,
    });
    assert.throws(() => define({ ...base, version: value, fields: oneField }), RangeError);
    assert.throws(() => define({ ...base, version: value, fields: oneField }), {
      name: "RangeError",
      message: /PlayerState: version/,
    });
  }
});

Deno.test("defineSchema accepts codes, versions and field ids at 0 and 255", () => {
  for (const n of [0, 255]) {
    const schema = define({
      name: "Edge",
      code: n,
      version: n,
      fields: { a: { id: n, type: "bool" } },
    });
    assert.equal(schema.code, n);
    assert.equal(schema.version, n);
    assert.equal(schema.fields[0]!.id, n);
  }
});

Deno.test("defineSchema refuses a field id outside 0..255 or not an integer with a RangeError", () => {
  for (const id of [-1, 256, 0.5, NaN, "0", undefined, null]) {
    const attempt = () => define({ ...base, fields: { x: { id, type: "int8" } } });
    assert.throws(attempt, RangeError);
    assert.throws(attempt, { name: "RangeError", message: /PlayerState: field x: id/ });
  }
});

Deno.test("defineSchema refuses two fields sharing an id with a RangeError naming both", () => {
  const attempt = () =>
    define({
      ...base,
      fields: {
        x: { id: 3, type: "int8" },
        y: { id: 1, type: "int8" },
        z: { id: 3, type: "bool" },
      },
    });
  assert.throws(attempt, RangeError);
  assert.throws(attempt, { name: "RangeError", message: /fields x and z share id 3/ });
});

Deno.test("defineSchema refuses an unknown field type with a TypeError", () => {
  for (const type of ["int64", "Int8", "", "toString", "constructor", undefined, null, 1]) {
    const attempt = () => define({ ...base, fields: { x: { id: 0, type } } });
    assert.throws(attempt, TypeError);
    assert.throws(attempt, { name: "TypeError", message: /PlayerState: field x: unknown type/ });
  }
});

Deno.test("defineSchema refuses a field named __proto__ or with an empty name with a TypeError", () => {
  const computed = { ["__proto__"]: { id: 0, type: "int8" } };
  assert.ok(Object.hasOwn(computed, "__proto__"));
  assert.throws(() => define({ ...base, fields: computed }), TypeError);
  assert.throws(() => define({ ...base, fields: computed }), {
    name: "TypeError",
    message: /PlayerState: field __proto__/,
  });
  const parsed = JSON.parse(
    '{"ok": {"id": 0, "type": "int8"}, "__proto__": {"id": 1, "type": "int8"}}',
  );
  assert.throws(() => define({ ...base, fields: parsed }), TypeError);
  assert.throws(() => define({ ...base, fields: { "": { id: 0, type: "int8" } } }), TypeError);
});

Deno.test("defineSchema refuses field names that every object inherits, with a TypeError", () => {
  // A plain object always "has" these, so such a field could never be left out: encoding `{}`
  // would find Object.prototype's function where the value should be.
  for (const name of ["constructor", "toString", "valueOf", "hasOwnProperty", "isPrototypeOf"]) {
    const attempt = () =>
      define({ ...base, fields: { [name]: { id: 0, type: "int8", optional: true } } });
    assert.throws(attempt, TypeError);
    assert.throws(attempt, { name: "TypeError", message: new RegExp(`field ${name}: name`) });
  }
  // Names that are merely common property names elsewhere are fine.
  for (const name of ["length", "prototype", "name", "0", "toJSON"]) {
    const schema = define({ ...base, fields: { [name]: { id: 0, type: "int8", optional: true } } });
    const writer = new BinaryWriter();
    schema.codec.write(writer, {});
    assert.deepEqual([...writer.toBytes()], [0]);
  }
});

Deno.test("defineSchema refuses an optional flag that is not a boolean with a TypeError", () => {
  for (const optional of ["yes", 1, 0, null, {}]) {
    const attempt = () => define({ ...base, fields: { x: { id: 0, type: "int8", optional } } });
    assert.throws(attempt, TypeError);
    assert.throws(attempt, { name: "TypeError", message: /PlayerState: field x: optional/ });
  }
  const explicit = define({ ...base, fields: { x: { id: 0, type: "int8", optional: undefined } } });
  assert.equal(explicit.fields[0]!.optional, false);
});

Deno.test("defineSchema refuses fields that are not objects with a TypeError", () => {
  for (const fields of [null, "x", 5, undefined]) {
    assert.throws(() => define({ ...base, fields }), TypeError);
  }
  for (const field of [null, 5, "int8"]) {
    assert.throws(() => define({ ...base, fields: { x: field } }), {
      name: "TypeError",
      message: /PlayerState: field x/,
    });
  }
});

Deno.test("defineSchema accepts a schema without fields: its body is empty", () => {
  const schema = define({ name: "Empty", code: 0, version: 0, fields: {} });
  assert.equal(schema.bitCount, 0);
  assert.equal(schema.bitBytes, 0);
  const writer = new BinaryWriter();
  schema.codec.write(writer, {});
  assert.equal(writer.length, 0);
  assert.deepEqual(schema.codec.read(new Uint8Array(0), 0, 0, 0), {});
});

// ---------------------------------------------------------------------------------------------
// Field layout

Deno.test("fields are laid out in id order whatever the declaration order", () => {
  const schema = defineSchema({
    ...base,
    fields: {
      c: { id: 5, type: "bool", optional: true },
      a: { id: 1, type: "bool" },
      b: { id: 3, type: "int8", optional: true },
      d: { id: 0, type: "string", optional: true },
      e: { id: 9, type: "bool", optional: true },
      f: { id: 200, type: "uint8" },
    },
  });
  assert.deepEqual(schema.fields.map((f) => f.name), ["d", "a", "b", "c", "e", "f"]);
  assert.deepEqual(schema.fields.map((f) => f.id), [0, 1, 3, 5, 9, 200]);
});

Deno.test("presence bits come first in id order, then bool value bits in id order", () => {
  const schema = defineSchema({
    ...base,
    fields: {
      c: { id: 5, type: "bool", optional: true },
      a: { id: 1, type: "bool" },
      b: { id: 3, type: "int8", optional: true },
      d: { id: 0, type: "string", optional: true },
      e: { id: 9, type: "bool", optional: true },
      f: { id: 200, type: "uint8" },
    },
  });
  const layout = Object.fromEntries(
    schema.fields.map((f) => [f.name, [f.presenceBit, f.valueBit, f.optional]]),
  );
  assert.deepEqual(layout, {
    d: [0, -1, true],
    a: [-1, 4, false],
    b: [1, -1, true],
    c: [2, 5, true],
    e: [3, 6, true],
    f: [-1, -1, false],
  });
  assert.equal(schema.bitCount, 7);
  assert.equal(schema.bitBytes, 1);
  // c and e present (bits 2, 3), a true (bit 4), c false (bit 5 clear), e true (bit 6).
  const writer = new BinaryWriter();
  schema.codec.write(writer, { a: true, c: false, e: true, f: 9 });
  assert.deepEqual([...writer.toBytes()], [0b0011_1010, 9]);
});

Deno.test("the bit section takes ceil(bits / 8) bytes", () => {
  for (const bits of [0, 1, 7, 8, 9, 16, 17, 100]) {
    const fields: Record<string, { id: number; type: "bool" }> = {};
    for (let i = 0; i < bits; i++) fields[`b${i}`] = { id: i, type: "bool" };
    const schema = defineSchema({ name: "Bits", code: 1, version: 0, fields });
    assert.equal(schema.bitCount, bits);
    assert.equal(schema.bitBytes, Math.ceil(bits / 8));
    const value = Object.fromEntries(Object.keys(fields).map((name) => [name, true]));
    const writer = new BinaryWriter();
    schema.codec.write(writer, value);
    assert.equal(writer.length, Math.ceil(bits / 8));
  }
});

Deno.test("a schema's fields are frozen and its definition is kept", () => {
  const definition = { ...base, fields: { x: { id: 0, type: "int16" } } } as const;
  const schema = defineSchema(definition);
  assert.ok(Object.isFrozen(schema.fields));
  assert.ok(Object.isFrozen(schema.fields[0]));
  assert.equal(schema.definition, definition);
  assert.equal(String(schema), "PlayerState 10.0");
});

// ---------------------------------------------------------------------------------------------
// SchemaRegistry

const Move = defineSchema({
  name: "Move",
  code: 1,
  version: 0,
  fields: { dx: { id: 0, type: "int8" }, tag: { id: 1, type: "string", optional: true } },
});
const MoveV1 = defineSchema({
  name: "Move",
  code: 1,
  version: 1,
  fields: { dx: { id: 0, type: "int16" } },
});
const Chat = defineSchema({
  name: "Chat",
  code: 7,
  version: 3,
  fields: { text: { id: 0, type: "string" }, loud: { id: 1, type: "bool", optional: true } },
});

Deno.test("SchemaRegistry finds schemas by code and version", () => {
  const registry = new SchemaRegistry([Chat, Move, MoveV1]);
  assert.equal(registry.get(1, 0), Move);
  assert.equal(registry.get(1, 1), MoveV1);
  assert.equal(registry.get(7, 3), Chat);
  assert.equal(registry.get(7, 0), undefined);
  assert.equal(registry.get(2, 0), undefined);
  assert.equal(registry.get(255, 255), undefined);
  assert.equal(registry.size, 3);
  assert.ok(registry.has(Move) && registry.has(MoveV1) && registry.has(Chat));
  assert.equal(new SchemaRegistry().has(Move), false);
  assert.deepEqual([...registry], [Move, MoveV1, Chat], "iterates in code, then version, order");
});

Deno.test("SchemaRegistry accepts the same schema twice", () => {
  const registry = new SchemaRegistry([Move, Move]);
  assert.equal(registry.register(Move), registry, "register returns the registry");
  assert.equal(registry.size, 1);
  assert.equal(registry.get(1, 0), Move);
});

Deno.test("SchemaRegistry accepts an identical definition twice and keeps the first", () => {
  const again = defineSchema(Move.definition);
  const registry = new SchemaRegistry([Move, again]);
  assert.equal(registry.size, 1);
  assert.equal(registry.get(1, 0), Move);
  assert.equal(registry.has(again), false, "has() is about the exact object");
});

Deno.test("SchemaRegistry refuses a different schema under a taken code and version", () => {
  const variants = [
    { ...Move.definition, name: "Walk" },
    { ...Move.definition, fields: { dx: { id: 0, type: "int16" } } },
    { ...Move.definition, fields: { dx: { id: 0, type: "int8" } } },
    {
      ...Move.definition,
      fields: { dx: { id: 0, type: "int8" }, tag: { id: 1, type: "string" } },
    },
    {
      ...Move.definition,
      fields: { dx: { id: 0, type: "int8" }, tag: { id: 2, type: "string", optional: true } },
    },
    {
      ...Move.definition,
      fields: { dy: { id: 0, type: "int8" }, tag: { id: 1, type: "string", optional: true } },
    },
  ];
  for (const definition of variants) {
    const other = define(definition);
    assert.throws(() => new SchemaRegistry([Move, other]), SchemaConflictError);
    const registry = new SchemaRegistry([Move]);
    assert.throws(() => registry.register(other), (error: unknown) => {
      assert.ok(error instanceof SchemaConflictError);
      assert.ok(error instanceof Error);
      assert.equal(error.name, "SchemaConflictError");
      assert.equal(error.code, 1);
      assert.equal(error.version, 0);
      assert.match(error.message, /1\.0/);
      return true;
    });
    assert.equal(registry.get(1, 0), Move, "the first schema stays");
    assert.equal(registry.size, 1);
  }
});

Deno.test("SchemaRegistry refuses schemas that differ only in how names split into fields", () => {
  // Field names may hold spaces and colons; the description must not let them blur together.
  const twoFields = define({
    name: "Odd",
    code: 1,
    version: 0,
    fields: { a: { id: 0, type: "int8" }, b: { id: 1, type: "int8" } },
  });
  const oneField = define({
    name: "Odd",
    code: 1,
    version: 0,
    fields: { "a:int8 1:b": { id: 0, type: "int8" } },
  });
  assert.throws(() => new SchemaRegistry([twoFields, oneField]), SchemaConflictError);
  assert.notEqual(
    new SchemaRegistry([twoFields]).fingerprint,
    new SchemaRegistry([oneField]).fingerprint,
  );
  const nameHoldsFields = define({
    name: "A {0:x:int8} B",
    code: 1,
    version: 0,
    fields: { y: { id: 0, type: "int8" } },
  });
  const fieldHoldsName = define({
    name: "A",
    code: 1,
    version: 0,
    fields: { "x:int8} B {0:y": { id: 0, type: "int8" } },
  });
  assert.throws(() => new SchemaRegistry([nameHoldsFields, fieldHoldsName]), SchemaConflictError);
  // Lone surrogates must not collapse into one replacement character.
  const high = define({
    name: "S",
    code: 1,
    version: 0,
    fields: { "\uD800": { id: 0, type: "int8" } },
  });
  const low = define({
    name: "S",
    code: 1,
    version: 0,
    fields: { "\uDC00": { id: 0, type: "int8" } },
  });
  assert.notEqual(new SchemaRegistry([high]).fingerprint, new SchemaRegistry([low]).fingerprint);
});

Deno.test("the fingerprint is 16 hex digits and does not depend on registration order", () => {
  const a = new SchemaRegistry([Move, MoveV1, Chat]);
  const b = new SchemaRegistry([Chat, MoveV1, Move]);
  const c = new SchemaRegistry().register(MoveV1).register(Chat).register(Move);
  assert.match(a.fingerprint, /^[0-9a-f]{16}$/);
  assert.equal(a.fingerprint, b.fingerprint);
  assert.equal(a.fingerprint, c.fingerprint);
  // Rebuilt from the same definitions, in another module say, the fingerprint is the same.
  const rebuilt = new SchemaRegistry([Move, MoveV1, Chat].map((s) => define(s.definition)));
  assert.equal(rebuilt.fingerprint, a.fingerprint);
  // FNV-1a 64 of the empty string is the offset basis.
  assert.equal(new SchemaRegistry().fingerprint, "cbf29ce484222325");
});

Deno.test("the fingerprint changes when any name, id, type or optional flag changes", () => {
  const fingerprint = (definition: unknown) => new SchemaRegistry([define(definition)]).fingerprint;
  const original = {
    name: "Chat",
    code: 7,
    version: 3,
    fields: { text: { id: 0, type: "string" }, loud: { id: 1, type: "bool", optional: true } },
  };
  const changed = [
    { ...original, name: "Talk" },
    { ...original, code: 8 },
    { ...original, version: 4 },
    { ...original, fields: { ...original.fields, text: { id: 2, type: "string" } } },
    { ...original, fields: { ...original.fields, text: { id: 0, type: "bytes" } } },
    {
      ...original,
      fields: { ...original.fields, text: { id: 0, type: "string", optional: true } },
    },
    { ...original, fields: { ...original.fields, loud: { id: 1, type: "bool" } } },
    { ...original, fields: { words: { id: 0, type: "string" }, loud: original.fields.loud } },
    { ...original, fields: { text: original.fields.text } },
    { ...original, fields: { ...original.fields, extra: { id: 9, type: "uint8" } } },
  ];
  const seen = new Set([fingerprint(original)]);
  assert.equal(fingerprint(original), new SchemaRegistry([Chat]).fingerprint);
  for (const definition of changed) {
    const value = fingerprint(definition);
    assert.ok(!seen.has(value), `fingerprint unchanged for ${JSON.stringify(definition)}`);
    seen.add(value);
  }
});

Deno.test("the fingerprint changes when a schema is added after it was read", () => {
  const registry = new SchemaRegistry([Move]);
  const before = registry.fingerprint;
  registry.register(Chat);
  assert.notEqual(registry.fingerprint, before);
  assert.equal(registry.fingerprint, new SchemaRegistry([Chat, Move]).fingerprint);
  registry.register(Chat);
  assert.equal(registry.fingerprint, new SchemaRegistry([Chat, Move]).fingerprint);
});

Deno.test("describeSchema lists code, version, name and fields in id order", () => {
  assert.equal(describeSchema(Move), "1.0 Move {0:dx:int8 1:tag:string?}");
  assert.equal(describeSchema(Chat), "7.3 Chat {0:text:string 1:loud:bool?}");
  const shuffled = defineSchema({
    name: "Shuffled",
    code: 255,
    version: 255,
    fields: { z: { id: 9, type: "radians" }, a: { id: 2, type: "bytes", optional: true } },
  });
  assert.equal(describeSchema(shuffled), "255.255 Shuffled {2:a:bytes? 9:z:radians}");
  assert.equal(
    describeSchema(defineSchema({ name: "E", code: 0, version: 0, fields: {} })),
    "0.0 E {}",
  );
});

Deno.test("describeSchema writes names that are not identifiers as JSON strings", () => {
  const odd = define({
    name: "Odd one",
    code: 1,
    version: 0,
    fields: { "a:int8 1:b": { id: 0, type: "int8" }, _ok$1: { id: 1, type: "bool" } },
  });
  assert.equal(describeSchema(odd), '1.0 "Odd one" {0:"a:int8 1:b":int8 1:_ok$1:bool}');
});
