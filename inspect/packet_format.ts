/**
 * Turns decoded capture entries into lines for people or JSON for programs.
 *
 * @module
 */

import {
  decodeEntryList,
  PayloadType,
  RoomJoined,
  RoomList,
  RoomListing,
  RoomMemberEntry,
  type Schema,
} from "../protocol/mod.ts";
import type { CapturedPacket, CaptureEntry, CaptureFault } from "./capture_decoder.ts";

/** Options for {@linkcode formatEntry}. */
export interface FormatEntryOptions {
  /**
   * Whether to show who sent each packet (`src -> dst`), for captures with several streams.
   *
   * @default {false}
   */
  showStreams?: boolean;
}

/**
 * Formats a packet or note as one line: `#3 10.0 /home {x: 120, y: -4, angle: 1.5708}`.
 * Application messages show their schema as `code.version`, built-in ones by name; a frame whose
 * schema is unknown shows its bytes.
 *
 * @param entry The packet or note.
 * @param options Whether to show streams.
 * @returns The line.
 *
 * @example
 * ```ts
 * import { decodeCapture, formatEntry } from "@game-socket/game-socket/inspect";
 * import assert from "node:assert/strict";
 *
 * const { entries } = decodeCapture("08 10 00 03 00 00 00 03 e8");
 * assert.equal(formatEntry(entries[0]!), "#1 Ping / {timestamp: 1000}");
 * ```
 */
export function formatEntry(entry: CaptureEntry, options: FormatEntryOptions = {}): string {
  const stream = options.showStreams && entry.src !== undefined
    ? ` ${entry.src} -> ${entry.dst}`
    : "";
  if (entry.type === "note") return `note:${stream} ${entry.message} (at byte ${entry.offset})`;
  return `#${entry.number}${stream} ${describePacket(entry)}`;
}

/**
 * Formats a packet without its number and stream: schema, namespace and fields, as
 * {@linkcode formatEntry} shows them after `#N`.
 *
 * @param packet The packet.
 * @returns The text, e.g. `Ping / {timestamp: 1000}`.
 *
 * @example
 * ```ts
 * import { decodeCapture, describePacket } from "@game-socket/game-socket/inspect";
 * import assert from "node:assert/strict";
 *
 * const [packet] = decodeCapture("08 10 00 03 00 00 00 03 e8").entries;
 * assert.ok(packet?.type === "packet");
 * assert.equal(describePacket(packet), "Ping / {timestamp: 1000}");
 * ```
 */
export function describePacket(packet: CapturedPacket): string {
  const frame = packet.frame;
  const namespace = packet.namespace ?? `channel ${frame.channel}`;
  switch (frame.type) {
    case "control":
      return `${frame.schema.name} ${namespace} ${
        formatValue(
          frame.schema,
          readableRoom(frame.schema, readableEvent(frame.value, packet.eventName)),
        )
      }`;
    case "message":
      return `${frame.schema.code}.${frame.schema.version} ${namespace} ${
        formatValue(frame.schema, frame.value)
      }`;
    case "raw":
      return `raw ${namespace} ${frame.data.length} bytes: ${hex(frame.data)}`;
    case "unknown": {
      const label = frame.kind === "control"
        ? `control ${frame.code}.${frame.version}`
        : `${frame.code}.${frame.version}`;
      return `${label} ${namespace} unknown schema, ${frame.body.length} bytes: ${hex(frame.body)}`;
    }
  }
}

/**
 * Formats a message's value as `{field: value, ...}` in field order: strings quoted, bytes as
 * `<hex>`, quantized numbers rounded to their precision.
 *
 * @param schema The message's schema.
 * @param value The message's value.
 * @returns The text.
 */
export function formatValue(schema: Schema<object>, value: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const field of schema.fields) {
    const v = value[field.name];
    if (v === undefined) continue;
    parts.push(`${field.name}: ${formatField(field.type, v)}`);
  }
  return `{${parts.join(", ")}}`;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Shows an event's name next to its id, and a string or JSON payload as text. */
function readableEvent(
  value: Record<string, unknown>,
  eventName: string | undefined,
): Record<string, unknown> {
  if (!("payloadType" in value)) return value;
  const out = { ...value };
  if (eventName !== undefined) {
    out.event = new Labelled(`${value.event} ${JSON.stringify(eventName)}`);
  }
  const payload = value.payload;
  const type = value.payloadType;
  const typeName = PAYLOAD_TYPE_NAMES[type as number];
  if (typeName !== undefined) out.payloadType = new Labelled(`${type} (${typeName})`);
  if (payload instanceof Uint8Array && (type === PayloadType.String || type === PayloadType.Json)) {
    try {
      const text = utf8.decode(payload);
      out.payload = new Labelled(
        type === PayloadType.String ? JSON.stringify(text) : `json ${text}`,
      );
    } catch {
      // Not UTF-8: leave the bytes as they are.
    }
  }
  return out;
}

/**
 * Shows the room layer's nested bytes as what they hold: metadata and filters as JSON text, a
 * room's members and a page of rooms as their entries.
 */
function readableRoom(
  schema: Schema<object>,
  value: Record<string, unknown>,
): Record<string, unknown> {
  const out = { ...value };
  if (out.metadata instanceof Uint8Array) {
    try {
      out.metadata = new Labelled(`json ${utf8.decode(out.metadata)}`);
    } catch {
      // Not UTF-8: leave the bytes as they are.
    }
  }
  const list = schema === RoomJoined
    ? ["members", RoomMemberEntry] as const
    : schema === RoomList
    ? ["rooms", RoomListing] as const
    : undefined;
  const bytes = list === undefined ? undefined : out[list[0]];
  if (list !== undefined && bytes instanceof Uint8Array) {
    try {
      const entries = decodeEntryList(list[1] as Schema<object>, bytes, 65_535);
      out[list[0]] = new Labelled(
        `[${
          entries.map((entry) =>
            formatValue(list[1], readableRoom(list[1], entry as Record<string, unknown>))
          ).join(", ")
        }]`,
      );
    } catch {
      // Not a list: leave the bytes as they are.
    }
  }
  return out;
}

const PAYLOAD_TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(PayloadType).map(([name, code]) => [code, name.toLowerCase()]),
);

/** A value already formatted for display. */
class Labelled {
  constructor(readonly text: string) {}
}

function formatField(type: string, value: unknown): string {
  if (value instanceof Labelled) return value.text;
  if (value instanceof Uint8Array) return `<${hex(value)}>`;
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value !== "number") return String(value);
  switch (type) {
    case "single":
      return String(round(value, 3));
    case "radians":
      return String(round(value, 4));
    case "float32":
      return String(Number(value.toPrecision(7)));
    default:
      return String(value);
  }
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join(" ");
}

/**
 * Converts a packet or note to a JSON-ready object: bytes become hex strings.
 *
 * @param entry The packet or note.
 * @returns A plain object for `JSON.stringify`.
 *
 * @example
 * ```ts
 * import { decodeCapture, entryToJson } from "@game-socket/game-socket/inspect";
 * import assert from "node:assert/strict";
 *
 * const { entries } = decodeCapture("08 10 00 03 00 00 00 03 e8");
 * assert.deepEqual(entryToJson(entries[0]!), {
 *   type: "packet",
 *   number: 1,
 *   offset: 0,
 *   size: 9,
 *   channel: 0,
 *   namespace: "/",
 *   kind: "control",
 *   schema: "Ping",
 *   code: 3,
 *   version: 0,
 *   value: { timestamp: 1000 },
 * });
 * ```
 */
export function entryToJson(entry: CaptureEntry): Record<string, unknown> {
  const stream = entry.src === undefined ? {} : { src: entry.src, dst: entry.dst };
  if (entry.type === "note") {
    return { type: "note", ...stream, offset: entry.offset, message: entry.message };
  }
  const frame = entry.frame;
  const common = {
    type: "packet",
    number: entry.number,
    ...stream,
    offset: frame.offset,
    size: frame.size,
    channel: frame.channel,
    namespace: entry.namespace ?? null,
  };
  switch (frame.type) {
    case "control":
    case "message":
      return {
        ...common,
        kind: frame.type,
        schema: frame.schema.name,
        code: frame.schema.code,
        version: frame.schema.version,
        value: jsonValue(frame.schema, frame.value),
      };
    case "raw":
      return { ...common, kind: "raw", data: hex(frame.data) };
    case "unknown":
      return {
        ...common,
        kind: frame.kind,
        schema: null,
        code: frame.code,
        version: frame.version,
        body: hex(frame.body),
      };
  }
}

/**
 * Converts a fault to a JSON-ready object.
 *
 * @param fault The fault.
 * @returns `{type: "error", code, offset, message}` and the stream when known.
 */
export function faultToJson(fault: CaptureFault): Record<string, unknown> {
  const stream = fault.src === undefined ? {} : { src: fault.src, dst: fault.dst };
  return {
    type: "error",
    ...stream,
    code: fault.error.code,
    offset: fault.error.offset ?? null,
    message: fault.error.message,
  };
}

/** The value with its fields in id order, bytes as hex. */
function jsonValue(
  schema: Schema<object>,
  value: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { name } of schema.fields) {
    const v = value[name];
    if (v !== undefined) out[name] = v instanceof Uint8Array ? hex(v) : v;
  }
  return out;
}
