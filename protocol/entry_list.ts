/**
 * Lists inside a `bytes` field: a room's members in `RoomJoined`, a page of rooms in `RoomList`.
 * The layout is a varuint count, then that many entries, each a varuint length and a message body
 * of one entry schema.
 *
 * @module
 */

import { BinaryReader } from "./binary_reader.ts";
import { BinaryWriter } from "./binary_writer.ts";
import { ProtocolError } from "./errors.ts";
import { readMessage, writeMessage } from "./message_codec.ts";
import type { Schema } from "./schema.ts";

/**
 * Encodes values as a list of bodies of one schema.
 *
 * @param schema The entries' schema.
 * @param values The entries.
 * @returns The count and the bodies, for a `bytes` field.
 *
 * @example
 * ```ts
 * import { decodeEntryList, defineSchema, encodeEntryList } from "@game-socket/game-socket/protocol";
 * import assert from "node:assert/strict";
 *
 * const Seat = defineSchema({ name: "Seat", code: 1, version: 0, fields: { n: { id: 0, type: "uint8" } } });
 * const bytes = encodeEntryList(Seat, [{ n: 1 }, { n: 2 }]);
 * assert.deepEqual(decodeEntryList(Seat, bytes, 10), [{ n: 1 }, { n: 2 }]);
 * ```
 */
export function encodeEntryList<V extends object>(
  schema: Schema<V>,
  values: readonly V[],
): Uint8Array {
  const writer = new BinaryWriter();
  const body = new BinaryWriter();
  writer.varuint(values.length);
  for (const value of values) {
    body.reset();
    writeMessage(body, schema, value);
    writer.varuint(body.length);
    writer.raw(body.toBytes());
  }
  return writer.toBytes();
}

/**
 * Decodes a list {@linkcode encodeEntryList} wrote.
 *
 * @param schema The entries' schema.
 * @param bytes The field's bytes.
 * @param maxEntries The most entries accepted.
 * @returns The entries.
 * @throws {ProtocolError} When the count is over `maxEntries` (`invalid_value`), a body is cut
 *   short (`truncated`) or bytes follow the last entry (`trailing_bytes`).
 */
export function decodeEntryList<V extends object>(
  schema: Schema<V>,
  bytes: Uint8Array,
  maxEntries: number,
): V[] {
  const reader = new BinaryReader(bytes);
  const count = reader.varuint();
  if (count > maxEntries) {
    throw new ProtocolError(
      "invalid_value",
      `Cannot decode a list of ${schema.name}: ${count} entries exceed the maximum of ${maxEntries}`,
    );
  }
  const values: V[] = [];
  for (let i = 0; i < count; i++) {
    const length = reader.varuint();
    const start = reader.pos;
    if (reader.end - start < length) reader.bytesCopy(length); // throws truncated
    values.push(readMessage(new BinaryReader(bytes, start, start + length, reader.base), schema));
    reader.pos = start + length;
  }
  if (reader.remaining > 0) {
    throw new ProtocolError(
      "trailing_bytes",
      `Cannot decode a list of ${schema.name}: ${reader.remaining} bytes follow the last entry`,
      { offset: reader.offset },
    );
  }
  return values;
}
