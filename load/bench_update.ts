/**
 * The message of the load tester and the fanout benchmark: a player's state plus the time it was
 * sent, so receivers on the same machine measure latency. 23 bytes on the wire, header included.
 * The load tester puts each sender's sequence number in `x` and `y` (fixed-width fields, so the
 * size does not change), for finding duplicates.
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

/**
 * Writes a sequence number into an update's `x` (low 16 bits) and `y` (high 16 bits), both
 * `int16`, so the message keeps its size.
 *
 * @param update The update.
 * @param sequence An integer in 0..2^31 - 1.
 *
 * @example
 * ```ts
 * import { sequenceOf, setSequence } from "./bench_update.ts";
 * import assert from "node:assert/strict";
 *
 * const update = { x: 0, y: 0 };
 * setSequence(update, 70_000);
 * assert.equal(sequenceOf(update), 70_000);
 * ```
 */
export function setSequence(update: { x: number; y: number }, sequence: number): void {
  update.x = (sequence << 16) >> 16;
  update.y = sequence >> 16;
}

/**
 * Reads the sequence number {@linkcode setSequence} wrote.
 *
 * @param update The update.
 * @returns The sequence number.
 */
export function sequenceOf(update: { readonly x: number; readonly y: number }): number {
  return ((update.y << 16) | (update.x & 0xffff)) >>> 0;
}
