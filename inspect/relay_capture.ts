/**
 * The relay capture: the text file `deno task dump --save` writes and `deno task decode` reads,
 * holding every chunk the relay forwarded with its connection, direction and time.
 *
 * ```
 * # game-socket relay capture 1
 * # relaying 127.0.0.1:4000 -> 127.0.0.1:3103
 * 1 C>S 0.004 2c100001012f00000020...
 * 1 S>C 0.006 5a100002012f0016465...
 * ```
 *
 * The first non-blank line is the header `# game-socket relay capture 1` (1 is the format's
 * version). Other lines starting with `#` are comments, blank lines are ignored, and every
 * other line is one chunk as the relay read it: the connection number (from 1, in order of
 * acceptance), the direction (`C>S` client to server, `S>C` server to client), the time in
 * seconds since the relay started (written with millisecond precision), and the bytes in hex;
 * the fields are separated by single spaces (the hex may hold spaces too).
 *
 * @module
 */

import type { CaptureStream } from "./capture_decoder.ts";
import { HexInputError, parsePlainHex } from "./hex_input.ts";

/** Who sent the bytes: `C>S` the client (to the server), `S>C` the server (to the client). */
export type RelayDirection = "C>S" | "S>C";

/** One chunk of a relayed connection, as the relay read it. */
export interface RelayCaptureChunk {
  /** The connection's number: 1 for the first the relay accepted. */
  readonly conn: number;
  /** Who sent the bytes. */
  readonly direction: RelayDirection;
  /** When the relay read them, in seconds since it started. */
  readonly time: number;
  /** The bytes. */
  readonly data: Uint8Array;
}

/** The version of the relay capture format that {@linkcode RELAY_CAPTURE_HEADER} announces. */
export const RELAY_CAPTURE_VERSION = 1;

const HEADER_PREFIX = "# game-socket relay capture";

/** The first line of a relay capture. */
export const RELAY_CAPTURE_HEADER: string = `${HEADER_PREFIX} ${RELAY_CAPTURE_VERSION}`;

// A chunk line: connection, direction, time, then the hex (group 4 starts at the hex).
const CHUNK_LINE = /^(\d+) (C>S|S>C) (\d+(?:\.\d+)?)(?: (.*))?$/;

/**
 * Whether a text is a relay capture: its first non-blank line starts with
 * `# game-socket relay capture`.
 *
 * @param text The capture.
 * @returns `true` for a relay capture (of any version).
 *
 * @example
 * ```ts
 * import { isRelayCapture, RELAY_CAPTURE_HEADER } from "@game-socket/game-socket/inspect";
 *
 * isRelayCapture(`${RELAY_CAPTURE_HEADER}\n1 C>S 0.000 00\n`); // true
 * isRelayCapture("08 10 00 03"); // false
 * ```
 */
export function isRelayCapture(text: string): boolean {
  const first = /^\s*(.*)/.exec(text)?.[1] ?? "";
  return first.startsWith(HEADER_PREFIX);
}

/**
 * Formats a chunk as one line of a relay capture (without the line break): the time with
 * millisecond precision, the bytes as hex without spaces.
 *
 * @param chunk The chunk.
 * @returns The line.
 *
 * @example
 * ```ts
 * import { formatRelayCaptureChunk } from "@game-socket/game-socket/inspect";
 * import assert from "node:assert/strict";
 *
 * const line = formatRelayCaptureChunk({
 *   conn: 1,
 *   direction: "C>S",
 *   time: 0.0123,
 *   data: new Uint8Array([8, 16]),
 * });
 * assert.equal(line, "1 C>S 0.012 0810");
 * ```
 */
export function formatRelayCaptureChunk(chunk: RelayCaptureChunk): string {
  let hex = "";
  for (const byte of chunk.data) hex += byte.toString(16).padStart(2, "0");
  return `${chunk.conn} ${chunk.direction} ${chunk.time.toFixed(3)} ${hex}`;
}

/**
 * Parses a relay capture into its chunks, in file order.
 *
 * @param text The capture, starting with {@linkcode RELAY_CAPTURE_HEADER}.
 * @returns The chunks.
 * @throws {HexInputError} On a missing header, another version, or a malformed line.
 *
 * @example
 * ```ts
 * import { parseRelayCapture, RELAY_CAPTURE_HEADER } from "@game-socket/game-socket/inspect";
 * import assert from "node:assert/strict";
 *
 * const [chunk] = parseRelayCapture(`${RELAY_CAPTURE_HEADER}\n# a comment\n2 S>C 1.5 0810\n`);
 * assert.deepEqual(chunk, {
 *   conn: 2,
 *   direction: "S>C",
 *   time: 1.5,
 *   data: new Uint8Array([8, 16]),
 * });
 * ```
 */
export function parseRelayCapture(text: string): RelayCaptureChunk[] {
  const chunks: RelayCaptureChunk[] = [];
  let headerSeen = false;
  text.split(/\r\n|\r|\n/).forEach((line, index) => {
    const lineNo = index + 1;
    const trimmed = line.trim();
    if (trimmed === "") return;
    if (!headerSeen) {
      if (trimmed !== RELAY_CAPTURE_HEADER) {
        const problem = trimmed.startsWith(HEADER_PREFIX)
          ? `unsupported relay capture "${trimmed}" (this build reads version ${RELAY_CAPTURE_VERSION})`
          : `expected "${RELAY_CAPTURE_HEADER}"`;
        throw new HexInputError(problem, lineNo, 1);
      }
      headerSeen = true;
      return;
    }
    if (trimmed.startsWith("#")) return;
    const match = CHUNK_LINE.exec(line);
    if (match === null) {
      throw new HexInputError("expected a chunk line: CONN C>S|S>C SECONDS HEX", lineNo, 1);
    }
    const [, conn, direction, time, hex = ""] = match;
    const hexColumn = line.length - hex.length + 1;
    let data: Uint8Array;
    try {
      data = parsePlainHex(hex);
    } catch (error) {
      if (!(error instanceof HexInputError)) throw error;
      const problem = error.message.replace(/^Cannot parse hex: | at line \d+, column \d+$/g, "");
      throw new HexInputError(problem, lineNo, hexColumn + error.column - 1);
    }
    chunks.push({
      conn: Number(conn),
      direction: direction as RelayDirection,
      time: Number(time),
      data,
    });
  });
  if (!headerSeen) throw new HexInputError(`expected "${RELAY_CAPTURE_HEADER}"`, 1, 1);
  return chunks;
}

/**
 * The names of the two ends of one direction of a relayed connection, as decoded packets show
 * them: `client N` and `server N`.
 *
 * @param conn The connection's number.
 * @param direction The direction.
 * @returns The sender and the receiver.
 *
 * @example
 * ```ts
 * import { relayPeers } from "@game-socket/game-socket/inspect";
 *
 * relayPeers(3, "S>C"); // { src: "server 3", dst: "client 3" }
 * ```
 */
export function relayPeers(
  conn: number,
  direction: RelayDirection,
): { src: string; dst: string } {
  const client = `client ${conn}`;
  const server = `server ${conn}`;
  return direction === "C>S" ? { src: client, dst: server } : { src: server, dst: client };
}

/**
 * Groups a relay capture's chunks into streams, one per connection and direction, in order of
 * first appearance, for {@linkcode decodeStreams}. A chunk's `packet` is its index in `chunks`,
 * so packets of all streams come out in the order the relay read them. Every stream starts at
 * its connection's start, which the relay saw.
 *
 * @param chunks The chunks, in the order the relay read them.
 * @returns The streams.
 */
export function relayCaptureStreams(chunks: readonly RelayCaptureChunk[]): CaptureStream[] {
  const streams = new Map<string, CaptureStream>();
  chunks.forEach((chunk, packet) => {
    const key = `${chunk.conn} ${chunk.direction}`;
    let stream = streams.get(key);
    if (stream === undefined) {
      stream = { ...relayPeers(chunk.conn, chunk.direction), chunks: [], startKnown: true };
      streams.set(key, stream);
    }
    stream.chunks.push({ packet, data: chunk.data, gapBefore: false });
  });
  return [...streams.values()];
}
