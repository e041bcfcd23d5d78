/**
 * Decodes the frames in captured byte streams: the logic behind `deno task decode`.
 *
 * @module
 */

import {
  concatBytes,
  DEFAULT_MAX_FRAME_SIZE,
  type Frame,
  FrameDecoder,
  ProtocolError,
  type SchemaRegistry,
} from "../protocol/mod.ts";
import { ConnectionNames } from "./connection_names.ts";
import { type HexFormat, parseHexInput } from "./hex_input.ts";
import { isRelayCapture, parseRelayCapture, relayCaptureStreams } from "./relay_capture.ts";
import { reassembleTcp } from "./tcp_reassembly.ts";

/** A piece of a captured stream. */
export interface CaptureChunk {
  /** The index of the captured packet the bytes came from (0 for plain input). */
  packet: number;
  /** The bytes. */
  data: Uint8Array;
  /** Whether bytes are missing from the capture just before these. */
  gapBefore: boolean;
}

/** One direction of one connection, as captured. */
export interface CaptureStream {
  /** The sender, when the capture says (`tshark -x` dumps do). */
  src?: string;
  /** The receiver, when the capture says. */
  dst?: string;
  /** The bytes in stream order. */
  chunks: CaptureChunk[];
  /** Whether the first chunk starts at the start of the stream (its TCP SYN was captured). */
  startKnown: boolean;
}

/** A decoded frame of a capture. */
export interface CapturedPacket {
  /** Always `packet`. */
  readonly type: "packet";
  /** 1-based number of the packet in the output. */
  readonly number: number;
  /** The decoded frame; its `offset` counts from the start of its stream's captured bytes. */
  readonly frame: Frame;
  /** The namespace of the frame's channel, when the capture named it. */
  readonly namespace: string | undefined;
  /**
   * For `Event` and `RoomEvent` frames, the event's name when the capture holds the `EventName`
   * frame that declared its id.
   */
  readonly eventName: string | undefined;
  /** The sender, when known. */
  readonly src: string | undefined;
  /** The receiver, when known. */
  readonly dst: string | undefined;
}

/** Something worth saying about a capture that is not an error: a mid-frame start or end, a gap. */
export interface CaptureNote {
  /** Always `note`. */
  readonly type: "note";
  /** What happened, for people. */
  readonly message: string;
  /** Where, in bytes from the start of the stream's captured bytes. */
  readonly offset: number;
  /** The sender, when known. */
  readonly src: string | undefined;
  /** The receiver, when known. */
  readonly dst: string | undefined;
}

/** A packet or a note, in capture order. */
export type CaptureEntry = CapturedPacket | CaptureNote;

/** Corrupt input that stopped the decoding of one stream. */
export interface CaptureFault {
  /** The error; its offset counts from the start of the stream's captured bytes. */
  readonly error: ProtocolError;
  /** The sender, when known. */
  readonly src: string | undefined;
  /** The receiver, when known. */
  readonly dst: string | undefined;
}

/**
 * The capture formats understood by {@linkcode decodeCapture}: the hex formats of
 * {@linkcode HexFormat}, and `relay`, the capture `deno task dump --save` writes (see
 * {@linkcode parseRelayCapture}).
 */
export type CaptureFormat = HexFormat | "relay";

/** What {@linkcode decodeCapture} found. */
export interface DecodedCapture {
  /** The input's format. */
  readonly format: CaptureFormat;
  /** Packets and notes, in capture order. */
  readonly entries: CaptureEntry[];
  /** Streams whose decoding stopped at corrupt input (after the packets before it). */
  readonly faults: CaptureFault[];
  /** Captured packets that were not TCP, for `tshark` input. */
  readonly skippedPackets: number;
}

/** Options for {@linkcode decodeCapture} and {@linkcode decodeStreams}. */
export interface DecodeCaptureOptions {
  /**
   * The application's schemas; frames of other schemas are shown as raw bytes.
   *
   * @default {an empty registry}
   */
  schemas?: SchemaRegistry;
  /**
   * The largest frame to accept, in bytes.
   *
   * @default {65536}
   */
  maxFrameSize?: number;
  /**
   * The input format; detected when not given.
   *
   * @default {detected}
   */
  format?: CaptureFormat;
}

/**
 * Decodes a hex capture: plain hex, `xxd` output, a `tshark -x` dump (whose packets are
 * reassembled into TCP streams first) or a relay capture (one stream per connection and
 * direction, named `client N` and `server N`).
 *
 * @param text The capture.
 * @param options Schemas, size limit and format.
 * @returns The packets, notes and faults.
 * @throws {HexInputError} When the text is not valid hex in its format.
 *
 * @example
 * ```ts
 * import { decodeCapture } from "@game-socket/game-socket/inspect";
 * import assert from "node:assert/strict";
 *
 * const { entries, faults } = decodeCapture("08 10 00 03 00 00 00 03 e8");
 * assert.equal(faults.length, 0);
 * assert.equal(entries[0]?.type === "packet" && entries[0].frame.type, "control");
 * ```
 */
export function decodeCapture(text: string, options: DecodeCaptureOptions = {}): DecodedCapture {
  if (options.format === "relay" || (options.format === undefined && isRelayCapture(text))) {
    const streams = relayCaptureStreams(parseRelayCapture(text));
    return { format: "relay", ...decodeStreams(streams, options), skippedPackets: 0 };
  }
  const { format, packets } = parseHexInput(text, options.format as HexFormat | undefined);
  if (format !== "tshark") {
    const chunks = packets.map((data, packet) => ({ packet, data, gapBefore: false }));
    return {
      format,
      ...decodeStreams([{ chunks, startKnown: false }], options),
      skippedPackets: 0,
    };
  }
  const { streams, skipped } = reassembleTcp(packets);
  const captured = streams.map((stream) => ({
    src: stream.src,
    dst: stream.dst,
    chunks: stream.segments,
    startKnown: stream.sawSyn,
  }));
  return { format, ...decodeStreams(captured, options), skippedPackets: skipped };
}

interface Pending {
  /** Sort key: the packet the frame or note belongs to, then the stream, then the order. */
  packet: number;
  stream: number;
  order: number;
  frame?: Frame;
  note?: string;
  offset: number;
}

/**
 * Decodes the frames of captured streams and puts them in capture order. Namespaces are named
 * from the `Connect` and `Handshake` frames of the same connection (both directions).
 *
 * A stream whose start was not captured may begin mid-frame: when decoding from its first byte
 * fails before any frame, the decoder looks for the first offset from which the rest decodes
 * cleanly, and notes how many bytes it skipped. The same happens after a gap in the capture.
 *
 * @param streams The streams.
 * @param options Schemas and size limit.
 * @returns The packets, notes and faults.
 */
export function decodeStreams(
  streams: readonly CaptureStream[],
  options: DecodeCaptureOptions = {},
): { entries: CaptureEntry[]; faults: CaptureFault[] } {
  const pending: Pending[] = [];
  const faults: CaptureFault[] = [];
  streams.forEach((stream, index) => {
    const fault = decodeStream(stream, index, options, pending);
    if (fault !== undefined) faults.push({ error: fault, src: stream.src, dst: stream.dst });
  });
  pending.sort((a, b) => a.packet - b.packet || a.stream - b.stream || a.order - b.order);
  const names = new Map<string, ConnectionNames>();
  const entries: CaptureEntry[] = [];
  let number = 0;
  for (const item of pending) {
    const { src, dst } = streams[item.stream]!;
    if (item.note !== undefined) {
      entries.push({ type: "note", message: item.note, offset: item.offset, src, dst });
      continue;
    }
    const frame = item.frame!;
    const connection = [src ?? "", dst ?? ""].sort().join(" ");
    let connectionNames = names.get(connection);
    if (connectionNames === undefined) {
      names.set(connection, connectionNames = new ConnectionNames());
    }
    const { namespace, eventName } = connectionNames.name(frame, item.stream);
    entries.push({ type: "packet", number: ++number, frame, namespace, eventName, src, dst });
  }
  return { entries, faults };
}

/** Decodes one stream run by run (runs are split at gaps); returns the fault that stopped it. */
function decodeStream(
  stream: CaptureStream,
  index: number,
  options: DecodeCaptureOptions,
  out: Pending[],
): ProtocolError | undefined {
  let order = 0;
  const add = (item: Omit<Pending, "stream" | "order">) =>
    out.push({ ...item, stream: index, order: order++ });
  let base = 0;
  const runs = splitRuns(stream.chunks);
  for (const [runIndex, run] of runs.entries()) {
    const bytes = concatBytes(run.map((chunk) => chunk.data));
    const packetAt = (offset: number) => packetOf(run, offset);
    const atStart = runIndex === 0 && stream.startKnown;
    let from = 0;
    let result = tryDecode(bytes, 0, options);
    if (runIndex > 0) {
      add({ packet: run[0]!.packet, offset: base, note: "bytes missing from the capture here" });
    }
    if (result.error !== undefined && result.frames.length === 0 && !atStart) {
      const resync = findFrameStart(bytes, options);
      if (resync !== undefined) {
        [from, result] = resync;
        add({
          packet: run[0]!.packet,
          offset: base,
          note: `capture starts mid-frame: skipped ${from} bytes to the next frame`,
        });
      }
    }
    for (const frame of result.frames) {
      const moved = { ...frame, offset: frame.offset + from + base };
      add({ packet: packetAt(frame.offset + from + frame.size - 1), frame: moved, offset: base });
    }
    if (result.error !== undefined) {
      return rebase(result.error, from + base);
    }
    if (result.buffered > 0) {
      add({
        packet: run[run.length - 1]!.packet,
        offset: base + bytes.length - result.buffered,
        note: `capture ends mid-frame: ${result.buffered} bytes of an unfinished frame`,
      });
    }
    base += bytes.length;
  }
  return undefined;
}

interface Attempt {
  frames: Frame[];
  error?: ProtocolError;
  buffered: number;
}

function tryDecode(bytes: Uint8Array, from: number, options: DecodeCaptureOptions): Attempt {
  const decoder = new FrameDecoder({
    unknownSchemas: "keep",
    maxFrameSize: options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
    ...(options.schemas === undefined ? {} : { schemas: options.schemas }),
  });
  const frames: Frame[] = [];
  try {
    for (const frame of decoder.push(bytes.subarray(from))) frames.push(frame);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return { frames, error, buffered: 0 };
  }
  return { frames, buffered: decoder.buffered };
}

/** The first offset after 0 from which the rest decodes without error into at least one frame. */
function findFrameStart(
  bytes: Uint8Array,
  options: DecodeCaptureOptions,
): [number, Attempt] | undefined {
  // A frame starts within one maximum frame (plus its prefix) of any point in the stream.
  const limit = Math.min(bytes.length - 1, (options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE) + 4);
  for (let from = 1; from <= limit; from++) {
    const attempt = tryDecode(bytes, from, options);
    if (attempt.error === undefined && attempt.frames.length > 0) return [from, attempt];
  }
  return undefined;
}

function splitRuns(chunks: readonly CaptureChunk[]): CaptureChunk[][] {
  const runs: CaptureChunk[][] = [];
  for (const chunk of chunks) {
    if (runs.length === 0 || chunk.gapBefore) runs.push([]);
    runs[runs.length - 1]!.push(chunk);
  }
  return runs;
}

/** The packet that holds byte `offset` of a run. */
function packetOf(run: readonly CaptureChunk[], offset: number): number {
  let end = 0;
  for (const chunk of run) {
    end += chunk.data.length;
    if (offset < end) return chunk.packet;
  }
  return run[run.length - 1]!.packet;
}

function rebase(error: ProtocolError, by: number): ProtocolError {
  if (by === 0 || error.offset === undefined) return error;
  const message = error.message.replace(/ \(at byte \d+\)$/, "");
  return new ProtocolError(error.code, message, { offset: error.offset + by, cause: error.cause });
}
