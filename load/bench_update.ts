/**
 * The message of the load tester and the fanout benchmark: a player's state plus the time it was
 * sent, so receivers on the same machine measure latency. 23 bytes on the wire, header included.
 *
 * @module
 */

import { defineSchema, type Schema, SchemaRegistry, type SchemaValue } from "../protocol/mod.ts";

/** The namespace of the benchmark on `deno task serve`. */
export const BENCH_NAMESPACE = "/bench";

/** Fields of {@linkcode BenchUpdate}. */
export const benchUpdateFields = {
  id: { id: 0, type: "uint16" },
  x: { id: 1, type: "int16" },
  y: { id: 2, type: "int16" },
  angle: { id: 3, type: "radians" },
  health: { id: 4, type: "single" },
  alive: { id: 5, type: "bool" },
  firing: { id: 6, type: "bool" },
  /** When it was sent: `performance.timeOrigin + performance.now()`, in milliseconds. */
  t: { id: 7, type: "float64" },
} as const;

/** A player's state with its send time: what each benchmark client sends at its rate. */
export const BenchUpdate: Schema<SchemaValue<typeof benchUpdateFields>> = defineSchema({
  name: "BenchUpdate",
  code: 1,
  version: 0,
  fields: benchUpdateFields,
});

/** The schema set of the benchmark namespace. */
export const BENCH_SCHEMAS: SchemaRegistry = new SchemaRegistry([BenchUpdate]);

/** Milliseconds on a clock every process of the machine shares (for latency across processes). */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}
