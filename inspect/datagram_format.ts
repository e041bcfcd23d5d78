/**
 * Turns datagram events into lines and JSON: the datagram part of `formatRelayEvent` and
 * `relayEventToJson`. Internal to the inspector.
 *
 * @module
 */

import { DatagramType } from "../protocol/mod.ts";
import type { CapturedPacket } from "./capture_decoder.ts";
import { describePacket, entryToJson } from "./packet_format.ts";
import type { RelayDatagramEvent } from "./relay_events.ts";

const TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(DatagramType).map(([name, code]) => [code, name.toLowerCase()]),
);

/**
 * Formats a datagram: one line per frame shown (a hello or a bad datagram: one line), each
 * starting with `where`, `udp`, the type, the session and the sequence number (and `(bad tag)`
 * when the tag was checked and does not match).
 *
 * @param event The datagram.
 * @param where The start of each line: peer or connection, direction, time.
 * @param shown The frames to show.
 * @returns The lines.
 */
export function formatDatagramLines(
  event: RelayDatagramEvent,
  where: string,
  shown: readonly CapturedPacket[],
): string[] {
  const { header, fault, hello } = event;
  const head = header === undefined
    ? `${where} udp`
    : `${where} udp ${TYPE_NAMES[header.type]} session ${header.session} seq ${header.sequence}` +
      (event.tag === "bad" ? " (bad tag)" : "");
  if (fault !== undefined) return [`${head} bad: ${fault.message} [${fault.code}]`];
  if (hello !== undefined) return [`${head} {time: ${hello.time}, echo: ${hello.echo}}`];
  const count = event.packets.length;
  return shown.map((packet) => {
    const position = count > 1 ? ` [${packet.number}/${count}]` : "";
    return `${head}${position} ${describePacket(packet)}`;
  });
}

/**
 * A datagram as a JSON-ready object: `datagram` (the type), `session`, `sequence` (null when
 * the datagram has no readable header), `tag` (`ok`, `bad`, or null when not checked), `size`,
 * then `hello`, the `frames` shown (each as a
 * packet of `deno task decode --json`, with `number` its place in the datagram), or `error`.
 *
 * @param event The datagram.
 * @param shown The frames to show.
 * @returns The fields after `type`, `conn`, `peer`, `direction` and `time`.
 */
export function datagramToJson(
  event: RelayDatagramEvent,
  shown: readonly CapturedPacket[],
): Record<string, unknown> {
  const { header, fault, hello } = event;
  const json: Record<string, unknown> = {
    datagram: header === undefined ? null : TYPE_NAMES[header.type],
    session: header?.session ?? null,
    sequence: header?.sequence ?? null,
    tag: event.tag ?? null,
    size: event.bytes.length,
  };
  if (fault !== undefined) {
    json.error = { code: fault.code, offset: fault.offset ?? null, message: fault.message };
  } else if (hello !== undefined) {
    json.hello = { time: hello.time, echo: hello.echo };
  } else {
    json.frames = shown.map((packet) => {
      const { type: _type, ...frame } = entryToJson(packet);
      delete frame.src;
      delete frame.dst;
      return frame;
    });
  }
  return json;
}
