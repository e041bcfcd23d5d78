/**
 * Decodes both directions of one relayed connection as its chunks come in, into relay events:
 * the decoding half of `PacketRelay`, without sockets. Internal to the inspector.
 *
 * @module
 */

import {
  concatBytes,
  type Frame,
  FrameDecoder,
  ProtocolError,
  type SchemaRegistry,
} from "../protocol/mod.ts";
import { ConnectionNames } from "./connection_names.ts";
import { type RelayDirection, relayPeers } from "./relay_capture.ts";
import type { RelayEvent } from "./relay_events.ts";

/** Options for {@linkcode RelayDecoder}. */
export interface RelayDecoderOptions {
  /** The connection's number. */
  conn: number;
  /** The application's schemas. */
  schemas: SchemaRegistry | undefined;
  /** The largest frame to decode, in bytes (checked already). */
  maxFrameSize: number;
  /** Gives the next packet number: packets are numbered across all connections. */
  nextNumber: () => number;
  /** Where events go. */
  emit: (event: RelayEvent) => void;
}

/** One direction's state. */
interface StreamState {
  decoder: FrameDecoder;
  /** The bytes not yet part of a reported frame, from stream offset `partsStart`. */
  parts: Uint8Array[];
  partsStart: number;
  /** Bytes read so far. */
  received: number;
  /** The error that stopped decoding, if any. */
  fault: ProtocolError | undefined;
}

/**
 * Decodes one connection's two directions chunk by chunk, as `decodeStreams` decodes a whole
 * capture whose streams start at their beginning: the same frames, names and numbers, so that a
 * relay capture decodes later to what the relay reported live. After an error a direction is no
 * longer decoded; its later chunks are reported as notes.
 */
export class RelayDecoder {
  #conn: number;
  #names = new ConnectionNames();
  #streams: Record<RelayDirection, StreamState>;
  #nextNumber: () => number;
  #emit: (event: RelayEvent) => void;

  /**
   * Creates the decoder of one connection.
   *
   * @param options The connection's number, how to decode, where events go.
   */
  constructor(options: RelayDecoderOptions) {
    this.#conn = options.conn;
    this.#nextNumber = options.nextNumber;
    this.#emit = options.emit;
    const { maxFrameSize, schemas } = options;
    const stream = (): StreamState => ({
      decoder: new FrameDecoder({
        unknownSchemas: "keep",
        maxFrameSize,
        ...(schemas === undefined ? {} : { schemas }),
      }),
      parts: [],
      partsStart: 0,
      received: 0,
      fault: undefined,
    });
    this.#streams = { "C>S": stream(), "S>C": stream() };
  }

  /** What the connection has declared so far: namespaces and event names. */
  get names(): ConnectionNames {
    return this.#names;
  }

  /**
   * How many bytes a direction has carried.
   *
   * @param direction The direction.
   * @returns The byte count.
   */
  received(direction: RelayDirection): number {
    return this.#streams[direction].received;
  }

  /**
   * Reports a chunk, then the frames it completes or the error it holds.
   *
   * @param direction Who sent it.
   * @param data The bytes (kept: not to be changed afterwards).
   * @param time Seconds since the relay started.
   */
  push(direction: RelayDirection, data: Uint8Array, time: number): void {
    const common = { conn: this.#conn, direction, time } as const;
    const peers = relayPeers(this.#conn, direction);
    this.#emit({ type: "chunk", ...common, data });
    const stream = this.#streams[direction];
    const at = stream.received;
    stream.received += data.length;
    if (stream.fault !== undefined) {
      const message = `${data.length} bytes relayed undecoded after the error`;
      const entry = { type: "note", message, offset: at, ...peers } as const;
      this.#emit({ type: "note", ...common, entry, bytes: data });
      return;
    }
    stream.parts.push(data);
    const frames: Frame[] = [];
    let fault: ProtocolError | undefined;
    try {
      for (const frame of stream.decoder.push(data)) frames.push(frame);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      fault = error;
    }
    if (frames.length === 0 && fault === undefined) return;
    const held = concatBytes(stream.parts);
    for (const frame of frames) {
      const { namespace, eventName } = this.#names.name(frame, direction);
      const number = this.#nextNumber();
      const entry = { type: "packet", number, frame, namespace, eventName, ...peers } as const;
      const start = frame.offset - stream.partsStart;
      this.#emit({
        type: "packet",
        ...common,
        entry,
        bytes: held.slice(start, start + frame.size),
      });
    }
    if (fault !== undefined) {
      stream.fault = fault;
      stream.parts = [];
      const last = frames.at(-1);
      const failedAt = last === undefined ? stream.partsStart : last.offset + last.size;
      const bytes = held.slice(failedAt - stream.partsStart);
      this.#emit({ type: "error", ...common, fault: { error: fault, ...peers }, bytes });
      return;
    }
    const keep = stream.decoder.buffered;
    stream.parts = keep > 0 ? [held.slice(held.length - keep)] : [];
    stream.partsStart = stream.received - keep;
  }

  /**
   * Notes an unfinished frame at the end of a direction.
   *
   * @param direction The direction that ended.
   * @param time Seconds since the relay started.
   */
  end(direction: RelayDirection, time: number): void {
    const stream = this.#streams[direction];
    const buffered = stream.decoder.buffered;
    if (stream.fault !== undefined || buffered === 0) return;
    const held = concatBytes(stream.parts);
    const offset = stream.received - buffered;
    const message = `stream ends mid-frame: ${buffered} bytes of an unfinished frame`;
    this.#emit({
      type: "note",
      conn: this.#conn,
      direction,
      time,
      entry: { type: "note", message, offset, ...relayPeers(this.#conn, direction) },
      bytes: held.slice(held.length - buffered),
    });
  }
}
