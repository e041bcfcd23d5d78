// Type-level tests: each `@ts-expect-error` below must be an error, so `deno check` (and
// `deno test`, which type-checks) fails if the inferred value types rot into something looser.
import assert from "node:assert/strict";
import {
  BinaryReader,
  BinaryWriter,
  defineSchema,
  encodeFrame,
  readMessage,
  type Schema,
  type ValueOf,
  writeFrame,
} from "../protocol/mod.ts";

const PlayerState = defineSchema({
  name: "PlayerState",
  code: 10,
  version: 0,
  fields: {
    id: { id: 0, type: "uint16" },
    x: { id: 1, type: "int16" },
    alive: { id: 2, type: "bool" },
    name: { id: 3, type: "string", optional: true },
    avatar: { id: 4, type: "bytes", optional: true },
  },
});

type PlayerStateValue = ValueOf<typeof PlayerState>;

/** `true` when `A` and `B` are the same type. */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
/** Flattens an intersection into one object type. */
type Flat<T> = { [K in keyof T]: T[K] };

Deno.test("defineSchema infers required and optional properties of the right types", () => {
  const exact: Equals<
    Flat<PlayerStateValue>,
    { id: number; x: number; alive: boolean; name?: string; avatar?: Uint8Array }
  > = true;
  assert.equal(exact, true);

  const value: PlayerStateValue = { id: 1, x: -2, alive: true, name: "Ann" };
  const bytes = encodeFrame(PlayerState, value);
  const decoded = readMessage(new BinaryReader(bytes, 5), PlayerState);
  const id: number = decoded.id;
  const alive: boolean = decoded.alive;
  const name: string | undefined = decoded.name;
  const avatar: Uint8Array | undefined = decoded.avatar;
  assert.deepEqual({ id, alive, name, avatar }, {
    id: 1,
    alive: true,
    name: "Ann",
    avatar: undefined,
  });
  // An annotated schema keeps its value type.
  const annotated: Schema<PlayerStateValue> = PlayerState;
  assert.equal(annotated, PlayerState);
});

Deno.test("encoding a value of the wrong shape is a type error, and a run-time error too", () => {
  const writer = new BinaryWriter();
  assert.throws(
    // @ts-expect-error x is an int16 field: a string is not a number
    () => encodeFrame(PlayerState, { id: 1, x: "2", alive: true }),
    TypeError,
  );
  assert.throws(
    // @ts-expect-error alive is a bool field: 1 is not a boolean
    () => writeFrame(writer, PlayerState, { id: 1, x: 2, alive: 1 }),
    TypeError,
  );
  assert.throws(
    // @ts-expect-error the required field x is missing
    () => encodeFrame(PlayerState, { id: 1, alive: true }),
    TypeError,
  );
  assert.throws(
    // @ts-expect-error avatar is a bytes field: an array of numbers is not a Uint8Array
    () => encodeFrame(PlayerState, { id: 1, x: 2, alive: true, avatar: [1, 2] }),
    TypeError,
  );
  assert.throws(
    // @ts-expect-error id is a uint16 field: a bigint is not a number
    () => encodeFrame(PlayerState, { id: 1n, x: 2, alive: true }),
    TypeError,
  );
  assert.equal(writer.length, 0);
});

Deno.test("a decoded optional field is not assignable to a non-optional type", () => {
  const bytes = encodeFrame(PlayerState, { id: 1, x: 2, alive: false });
  const decoded = readMessage(new BinaryReader(bytes, 5), PlayerState);
  // @ts-expect-error name is optional: it may be undefined
  const name: string = decoded.name;
  // @ts-expect-error avatar is optional: it may be undefined
  const avatar: Uint8Array = decoded.avatar;
  assert.equal(name, undefined);
  assert.equal(avatar, undefined);
  // @ts-expect-error x is a number, not a string
  const x: string = decoded.x;
  assert.equal(x, 2);
});

Deno.test("defineSchema refuses an unknown field type at compile time", () => {
  assert.throws(
    () =>
      defineSchema({
        name: "Bad",
        code: 1,
        version: 0,
        // @ts-expect-error int64 is not a field type
        fields: { big: { id: 0, type: "int64" } },
      }),
    TypeError,
  );
});
