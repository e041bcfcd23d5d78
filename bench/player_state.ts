/**
 * The "player state" message the codec benchmark measures, shared by its benchmarks.
 *
 * @module
 */

import { defineSchema, type Schema, type SchemaValue } from "../protocol/mod.ts";

/** Fields of {@linkcode PlayerState}. */
export const playerStateFields = {
  id: { id: 0, type: "uint16" },
  x: { id: 1, type: "int16" },
  y: { id: 2, type: "int16" },
  angle: { id: 3, type: "radians" },
  health: { id: 4, type: "single" },
  alive: { id: 5, type: "bool" },
  firing: { id: 6, type: "bool" },
  name: { id: 7, type: "string", optional: true },
} as const;

/** A player's state, as a game server sends it many times a second. */
export const PlayerState: Schema<SchemaValue<typeof playerStateFields>> = defineSchema({
  name: "PlayerState",
  code: 10,
  version: 0,
  fields: playerStateFields,
});

/** A typical value: the name is absent, as in most updates. */
export const sample: SchemaValue<typeof playerStateFields> = {
  id: 1042,
  x: 120,
  y: -4,
  angle: 1.5708,
  health: 0.75,
  alive: true,
  firing: false,
};
