/**
 * Event payloads: a schema message, bytes, a string, a JSON-able value, or nothing. The receiver
 * gets back the same kind of value that was sent.
 *
 * @module
 */

import {
  BinaryWriter,
  MAX_BYTES_LENGTH,
  PayloadType,
  ProtocolError,
  type Schema,
  type SchemaRegistry,
} from "../protocol/mod.ts";

/** A value that survives `JSON.stringify` and `JSON.parse` unchanged. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue | undefined };

/**
 * An application message carried as an event's payload: the receiver decodes it with the same
 * schema (looked up by code and version in its registry) and gets a `SchemaMessage` back.
 */
export class SchemaMessage<V extends object = Record<string, unknown>> {
  /** The message's schema. */
  readonly schema: Schema<V>;
  /** The message's fields. */
  readonly value: V;

  /**
   * Wraps a value with its schema.
   *
   * @param schema The schema.
   * @param value The value.
   */
  constructor(schema: Schema<V>, value: V) {
    this.schema = schema;
    this.value = value;
  }
}

/**
 * Wraps a value with its schema, to send it as an event's payload.
 *
 * @param schema The schema.
 * @param value The value.
 * @returns The message.
 *
 * @example
 * ```ts
 * import { defineSchema } from "@game-socket/game-socket/protocol";
 * import { message } from "@game-socket/game-socket";
 * import assert from "node:assert/strict";
 *
 * const Move = defineSchema({ name: "Move", code: 1, version: 0, fields: { dx: { id: 0, type: "int8" } } });
 * assert.equal(message(Move, { dx: 1 }).value.dx, 1);
 * ```
 */
export function message<V extends object>(schema: Schema<V>, value: V): SchemaMessage<V> {
  return new SchemaMessage(schema, value);
}

/** Anything an event can carry. `undefined` is no payload; strings, bytes and messages travel as such. */
export type Payload = undefined | Uint8Array | JsonValue | SchemaMessage<object>;

/** A payload as it travels in `Event`, `Ack` and `RoomEvent`. */
export interface EncodedPayload {
  /** How `payload` is encoded. */
  readonly payloadType: PayloadType;
  /** The encoded payload; absent for none. */
  readonly payload?: Uint8Array;
}

const NONE: EncodedPayload = { payloadType: PayloadType.None };
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const messageWriter = new BinaryWriter();

/**
 * Encodes a payload for the wire.
 *
 * @param data The payload.
 * @returns Its payload type and bytes.
 * @throws {TypeError} When the value is not JSON-able or a message field is wrong.
 * @throws {RangeError} When the encoded payload exceeds 65535 bytes.
 */
export function encodePayload(data: Payload): EncodedPayload {
  let encoded: EncodedPayload;
  if (data === undefined) return NONE;
  if (data instanceof Uint8Array) {
    encoded = { payloadType: PayloadType.Bytes, payload: data };
  } else if (typeof data === "string") {
    encoded = { payloadType: PayloadType.String, payload: textEncoder.encode(data) };
  } else if (data instanceof SchemaMessage) {
    messageWriter.reset();
    messageWriter.uint8(data.schema.code);
    messageWriter.uint8(data.schema.version);
    data.schema.codec.write(messageWriter, data.value);
    encoded = { payloadType: PayloadType.Message, payload: messageWriter.toBytes() };
  } else {
    const text = JSON.stringify(data);
    if (text === undefined) {
      throw new TypeError(`Cannot encode payload: ${typeof data} is not JSON`);
    }
    encoded = { payloadType: PayloadType.Json, payload: textEncoder.encode(text) };
  }
  if (encoded.payload!.length > MAX_BYTES_LENGTH) {
    throw new RangeError(
      `Cannot encode payload: ${
        encoded.payload!.length
      } bytes exceed the maximum of ${MAX_BYTES_LENGTH}`,
    );
  }
  return encoded;
}

/**
 * Decodes a payload from the wire.
 *
 * @param payloadType How it is encoded.
 * @param payload Its bytes, absent for none.
 * @param schemas Where message payloads find their schema.
 * @returns The value that was sent.
 * @throws {ProtocolError} When the bytes do not match the payload type.
 */
export function decodePayload(
  payloadType: number,
  payload: Uint8Array | undefined,
  schemas: SchemaRegistry,
): Payload {
  if (payloadType === PayloadType.None) {
    if (payload !== undefined) throw invalid("a payload of type none has bytes");
    return undefined;
  }
  if (payload === undefined) throw invalid(`a payload of type ${payloadType} has no bytes`);
  switch (payloadType) {
    case PayloadType.Bytes:
      return payload;
    case PayloadType.String:
      return utf8(payload);
    case PayloadType.Json:
      try {
        return JSON.parse(utf8(payload)) as JsonValue;
      } catch (error) {
        if (error instanceof ProtocolError) throw error;
        throw invalid("a JSON payload is not valid JSON");
      }
    case PayloadType.Message: {
      if (payload.length < 2) {
        throw new ProtocolError("truncated", "A message payload is truncated");
      }
      const schema = schemas.get(payload[0]!, payload[1]!);
      if (schema === undefined) {
        throw new ProtocolError(
          "unknown_schema",
          `A message payload names schema ${payload[0]}.${payload[1]}, which is not registered`,
        );
      }
      return new SchemaMessage(schema, schema.codec.read(payload, 2, payload.length, 0));
    }
    default:
      throw invalid(`payload type ${payloadType} is not defined`);
  }
}

function utf8(bytes: Uint8Array): string {
  try {
    return textDecoder.decode(bytes);
  } catch {
    throw new ProtocolError("invalid_utf8", "A payload is not valid UTF-8");
  }
}

function invalid(what: string): ProtocolError {
  return new ProtocolError("invalid_value", `Cannot decode payload: ${what}`);
}
