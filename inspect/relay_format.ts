/**
 * Turns relay events into lines for people or JSON for programs, and picks packets by name:
 * the output of `deno task dump`.
 *
 * @module
 */

import { EventName } from "../protocol/mod.ts";
import type { CapturedPacket } from "./capture_decoder.ts";
import { datagramToJson, formatDatagramLines } from "./datagram_format.ts";
import { entryToJson, faultToJson, formatEntry } from "./packet_format.ts";
import type { RelayDatagramEvent, RelayEvent } from "./relay_events.ts";

/** Options for {@linkcode formatRelayEvent} and {@linkcode relayEventToJson}. */
export interface FormatRelayEventOptions {
  /**
   * Whether to add the bytes of each packet, note and error: on a line of their own, indented,
   * or as a `hex` field in JSON.
   *
   * @default {false}
   */
  hex?: boolean;
  /**
   * Names to show packets and datagram frames of, as {@linkcode packetMatches} picks them: a
   * packet that answers to none of them gives `undefined`, and so does a datagram with no such
   * frame. Every datagram also answers to `udp` (with all its frames), and a hello only to
   * that. Other events, datagrams that do not decode among them, are always shown.
   *
   * @default {[] (everything is shown)}
   */
  filter?: readonly string[];
}

/**
 * Formats a relay event for people: one line (plus a line of bytes with `hex`), or `undefined`
 * for `chunk` events, which only capture files record, and for what `filter` leaves out. Every
 * line starts with the connection, the direction (blank for the whole connection) and the time in
 * seconds since the relay started; packets and notes then read as in `deno task decode`.
 *
 * ```
 * conn 1     0.004s open: client 127.0.0.1:50122, server 127.0.0.1:3103
 * conn 1 C>S 0.005s #1 Connect / {namespace: "/", channel: 0, ...}
 * conn 1 C>S 0.009s error: Cannot decode frame: ... (at byte 45) [unsupported_version]
 * conn 1 C>S 0.950s end: the client closed its side; closing the server's write side
 * conn 1     0.951s closed: 57 bytes C>S, 190 bytes S>C
 * ```
 *
 * A datagram prints one line per frame (a hello, or one that does not decode, one line), after
 * the connection of its session (`peer N`, the client address's number, when the relay did not
 * see the session's `Handshake`): `udp`, the type, the session and the sequence number
 * (`(bad tag)` after it when the tag does not match the session's key), then the frame (`[2/3]`
 * says which, when there are several), the hello's fields, or why it is bad.
 *
 * ```
 * peer 1     0.019s udp open: client 127.0.0.1:50130, server 127.0.0.1:3103 (from 127.0.0.1:50131)
 * conn 1 C>S 0.020s udp hello session 7 seq 0 {time: 10342, echo: 0}
 * conn 1 C>S 0.035s udp sequenced session 7 seq 5 Event /home {event: 2 "move", ...}
 * peer 2 C>S 0.040s udp bad: Cannot decode datagram: 5 bytes, at least 26 needed (at byte 0) [truncated]
 * conn 1     0.007s warning: the server announces UDP port 4001: ...
 * ```
 *
 * @param event The event.
 * @param options Whether to add bytes, which packets to show.
 * @returns The text, or `undefined`.
 *
 * @example
 * ```ts
 * import { formatRelayEvent } from "@game-socket/game-socket/inspect";
 * import assert from "node:assert/strict";
 *
 * const line = formatRelayEvent({ type: "close", conn: 2, time: 1.5, bytes: { "C>S": 9, "S>C": 0 } });
 * assert.equal(line, "conn 2     1.500s closed: 9 bytes C>S, 0 bytes S>C");
 * ```
 */
export function formatRelayEvent(
  event: RelayEvent,
  options: FormatRelayEventOptions = {},
): string | undefined {
  const direction = "direction" in event ? event.direction : "   ";
  const where = `${whoOf(event)} ${direction} ${event.time.toFixed(3)}s`;
  const withBytes = (line: string, bytes: Uint8Array) =>
    options.hex ? `${line}\n    ${hex(bytes)}` : line;
  switch (event.type) {
    case "chunk":
      return undefined;
    case "open":
      return `${where} open: client ${event.client}, server ${event.server}`;
    case "packet":
      if (!packetMatches(event.entry, options.filter ?? [])) return undefined;
      return withBytes(`${where} ${formatEntry(event.entry)}`, event.bytes);
    case "note":
      return withBytes(`${where} ${formatEntry(event.entry)}`, event.bytes);
    case "error": {
      const { message, code } = event.fault.error;
      return withBytes(`${where} error: ${message} [${code}]`, event.bytes);
    }
    case "end":
      return `${where} ${event.how}: ${event.message}`;
    case "close": {
      const sent = `${event.bytes["C>S"]} bytes C>S, ${event.bytes["S>C"]} bytes S>C`;
      return `${where} closed: ${event.error ?? sent}`;
    }
    case "datagram": {
      const shown = datagramPacketsShown(event, options.filter ?? []);
      if (shown === undefined) return undefined;
      return withBytes(formatDatagramLines(event, where, shown).join("\n"), event.bytes);
    }
    case "peer":
      return `${where} udp open: client ${event.client}, server ${event.server} ` +
        `(from ${event.upstream})`;
    case "warning":
      return `${where} warning: ${event.message}`;
  }
}

/**
 * Converts a relay event to a JSON-ready object, or `undefined` for `chunk` events and for what
 * `filter` leaves out. Packets, notes and errors are as in `deno task decode --json` (see
 * {@linkcode entryToJson} and {@linkcode faultToJson}), with `conn`, `direction` and `time`
 * (seconds, millisecond precision) added; `open`, `end`, `close`, `peer` and `warning` carry
 * their event's fields (`conn` null when there is none).
 *
 * A datagram gives `type: "datagram"`, `conn` (null when the relay did not see its session's
 * `Handshake`), `peer`, `direction`, `time`, then `datagram` (`hello`, `unreliable` or
 * `sequenced`), `session` and `sequence` (null when it has no readable header), `tag` (`ok`,
 * `bad`, or null when the relay did not see the session's key), `size` in bytes, and `hello` (`{time, echo}`), `frames` (the frames shown, as packets are, with `number` their
 * place in the datagram and `offset` counted from its first byte), or `error` (`{code, offset,
 * message}`).
 *
 * @param event The event.
 * @param options Whether to add bytes as a `hex` field, which packets to show.
 * @returns A plain object for `JSON.stringify`, or `undefined`.
 *
 * @example
 * ```ts
 * import { relayEventToJson } from "@game-socket/game-socket/inspect";
 * import assert from "node:assert/strict";
 *
 * const json = relayEventToJson({
 *   type: "end",
 *   conn: 1,
 *   direction: "S>C",
 *   time: 0.25,
 *   how: "end",
 *   message: "the server closed its side; closing the client's write side",
 * });
 * assert.equal(json?.direction, "S>C");
 * ```
 */
export function relayEventToJson(
  event: RelayEvent,
  options: FormatRelayEventOptions = {},
): Record<string, unknown> | undefined {
  const time = Number(event.time.toFixed(3));
  const withBytes = (json: Record<string, unknown>, bytes: Uint8Array) =>
    options.hex ? { ...json, hex: hex(bytes) } : json;
  switch (event.type) {
    case "chunk":
      return undefined;
    case "open":
      return { type: "open", conn: event.conn, time, client: event.client, server: event.server };
    case "packet":
    case "note": {
      if (event.type === "packet" && !packetMatches(event.entry, options.filter ?? [])) {
        return undefined;
      }
      const { type, ...rest } = entryToJson(event.entry);
      return withBytes(
        { type, conn: event.conn, direction: event.direction, time, ...rest },
        event.bytes,
      );
    }
    case "error": {
      const { type, ...rest } = faultToJson(event.fault);
      return withBytes(
        { type, conn: event.conn, direction: event.direction, time, ...rest },
        event.bytes,
      );
    }
    case "end":
      return {
        type: "end",
        conn: event.conn,
        direction: event.direction,
        time,
        how: event.how,
        message: event.message,
      };
    case "close":
      return {
        type: "close",
        conn: event.conn,
        time,
        bytes: { ...event.bytes },
        ...(event.error === undefined ? {} : { error: event.error }),
      };
    case "datagram": {
      const shown = datagramPacketsShown(event, options.filter ?? []);
      if (shown === undefined) return undefined;
      const { conn, peer, direction } = event;
      return withBytes(
        {
          type: "datagram",
          conn: conn ?? null,
          peer,
          direction,
          time,
          ...datagramToJson(event, shown),
        },
        event.bytes,
      );
    }
    case "peer": {
      const { peer, client, upstream, server } = event;
      return { type: "peer", peer, time, client, upstream, server };
    }
    case "warning":
      return { type: "warning", conn: event.conn ?? null, time, message: event.message };
  }
}

/**
 * Whether a packet answers to one of some names: its namespace, its event's name (for `Event`
 * and `RoomEvent`, and the name an `EventName` frame declares), or its schema's name
 * (`Connect`, `PlayerState`...; an application schema also answers to `code.version`, as it
 * prints, and so does a schema the decoder does not know; raw frames answer to `raw`). Names
 * compare exactly. No names at all match every packet.
 *
 * @param packet The packet.
 * @param names The names to look for.
 * @returns `true` when one of them matches, or `names` is empty.
 *
 * @example
 * ```ts
 * import { decodeCapture, packetMatches } from "@game-socket/game-socket/inspect";
 * import assert from "node:assert/strict";
 *
 * const [packet] = decodeCapture("08 10 00 03 00 00 00 03 e8").entries;
 * assert.ok(packet?.type === "packet");
 * assert.ok(packetMatches(packet, ["Ping"]));
 * assert.ok(packetMatches(packet, ["/"]));
 * assert.ok(!packetMatches(packet, ["/home", "hello"]));
 * ```
 */
export function packetMatches(packet: CapturedPacket, names: readonly string[]): boolean {
  if (names.length === 0) return true;
  const frame = packet.frame;
  const own: (string | undefined)[] = [packet.namespace, packet.eventName];
  switch (frame.type) {
    case "control":
      own.push(frame.schema.name);
      if (frame.schema === EventName) own.push((frame.value as { name?: string }).name);
      break;
    case "message":
      own.push(frame.schema.name, `${frame.schema.code}.${frame.schema.version}`);
      break;
    case "raw":
      own.push("raw");
      break;
    case "unknown":
      own.push(`${frame.code}.${frame.version}`);
      break;
  }
  return names.some((name) => own.includes(name));
}

/** The frames of a datagram to show under a filter; `undefined` to show nothing of it. */
function datagramPacketsShown(
  event: RelayDatagramEvent,
  names: readonly string[],
): readonly CapturedPacket[] | undefined {
  if (event.fault !== undefined || names.length === 0 || names.includes("udp")) {
    return event.packets;
  }
  const shown = event.packets.filter((packet) => packetMatches(packet, names));
  return shown.length === 0 ? undefined : shown;
}

/** Who an event is about: `conn N`, `peer N` (a UDP client address), or `relay`. */
function whoOf(event: RelayEvent): string {
  if (event.type === "peer") return `peer ${event.peer}`;
  if (event.conn !== undefined) return `conn ${event.conn}`;
  return event.type === "datagram" ? `peer ${event.peer}` : "relay";
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join(" ");
}
