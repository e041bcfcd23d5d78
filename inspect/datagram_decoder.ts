/**
 * Decodes relayed datagrams into relay events: the decoding half of the relay's UDP side,
 * without sockets. Internal to the inspector.
 *
 * @module
 */

import {
  DATAGRAM_HEADER_SIZE,
  datagramBody,
  type DatagramHeader,
  DatagramType,
  decodeDatagramFrames,
  decodeHello,
  type Frame,
  ProtocolError,
  readDatagramHeader,
  type SchemaRegistry,
} from "../protocol/mod.ts";
import { DatagramKey } from "../transport/datagram_key.ts";
import type { CapturedPacket } from "./capture_decoder.ts";
import { ConnectionNames } from "./connection_names.ts";
import { type RelayDirection, relayPeers } from "./relay_capture.ts";
import type { RelayDatagramEvent } from "./relay_events.ts";
import type { UdpSession } from "./udp_sessions.ts";

/** Options for {@linkcode DatagramDecoder}. */
export interface DatagramDecoderOptions {
  /** The application's schemas. */
  schemas: SchemaRegistry | undefined;
  /** The largest frame to decode, in bytes (checked already). */
  maxFrameSize: number;
  /** The TCP connection of a session, when the relay saw its `Handshake`. */
  lookup: (session: number) => UdpSession | undefined;
}

/** One datagram as it came: from which peer, which way, when. */
export interface ArrivedDatagram {
  /** The peer's number. */
  peer: number;
  /** Who sent it. */
  direction: RelayDirection;
  /** Seconds since the relay started. */
  time: number;
  /** The bytes. */
  data: Uint8Array;
}

/**
 * Decodes datagrams: header, hello or frames. Frames are named (namespace, event name) from
 * what their session's TCP connection declared, together with the `EventName` frames that
 * datagrams carry; a datagram of a session the relay did not see named by its peer's own
 * declarations. The tag is checked when the session's `Handshake` carried its key. Never throws
 * on bad input: the event then carries the fault.
 */
export class DatagramDecoder {
  #options: DatagramDecoderOptions;
  #peerNames = new Map<number, ConnectionNames>();

  /**
   * Creates a decoder.
   *
   * @param options How to decode, and where sessions are looked up.
   */
  constructor(options: DatagramDecoderOptions) {
    this.#options = options;
  }

  /**
   * Decodes one datagram.
   *
   * @param arrived The datagram, its peer, direction and time.
   * @returns The event to report.
   */
  decode(arrived: ArrivedDatagram): RelayDatagramEvent {
    const { peer, direction, time, data } = arrived;
    const event: RelayDatagramEvent = {
      type: "datagram",
      conn: undefined,
      peer,
      direction,
      time,
      header: undefined,
      tag: undefined,
      hello: undefined,
      packets: [],
      fault: undefined,
      bytes: data,
    };
    let header: DatagramHeader;
    try {
      header = readDatagramHeader(data);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      return { ...event, fault: error };
    }
    const session = this.#options.lookup(header.session);
    const conn = session?.conn;
    const tag = session?.key === undefined ? undefined : checkTag(data, session.key);
    const known = { ...event, conn, header, tag };
    if (header.fromServer !== (direction === "S>C")) {
      const says = header.fromServer ? "the server" : "the client";
      const sent = direction === "S>C" ? "the server" : "the client";
      const message =
        `Cannot decode datagram: its header says it is from ${says}, but ${sent} sent it`;
      return { ...known, fault: new ProtocolError("protocol_violation", message, { offset: 0 }) };
    }
    const body = datagramBody(data);
    if (header.type === DatagramType.Hello) return { ...known, hello: decodeHello(body) };
    let frames: Frame[];
    try {
      frames = decodeDatagramFrames(body, {
        unknownSchemas: "keep",
        maxFrameSize: this.#options.maxFrameSize,
        ...(this.#options.schemas === undefined ? {} : { schemas: this.#options.schemas }),
      });
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      return { ...known, fault: rebase(error) };
    }
    const names = session?.names ?? this.#namesOf(peer);
    const peers = conn === undefined
      ? { src: undefined, dst: undefined }
      : relayPeers(conn, direction);
    const packets = frames.map((decoded, index): CapturedPacket => {
      const frame = { ...decoded, offset: decoded.offset + DATAGRAM_HEADER_SIZE };
      const { namespace, eventName } = names.name(frame, direction);
      return { type: "packet", number: index + 1, frame, namespace, eventName, ...peers };
    });
    return { ...known, packets };
  }

  #namesOf(peer: number): ConnectionNames {
    let names = this.#peerNames.get(peer);
    if (names === undefined) this.#peerNames.set(peer, names = new ConnectionNames());
    return names;
  }
}

/** Checks a datagram's tag with the session's key, as the receiving peer does. */
function checkTag(datagram: Uint8Array, key: Uint8Array): "ok" | "bad" {
  return new DatagramKey(key).verify(datagram) ? "ok" : "bad";
}

/** The error with its offset counted from the datagram's first byte rather than its body's. */
function rebase(error: ProtocolError): ProtocolError {
  if (error.offset === undefined) return error;
  const message = error.message.replace(/ \(at byte \d+\)$/, "");
  return new ProtocolError(error.code, message, {
    offset: error.offset + DATAGRAM_HEADER_SIZE,
    cause: error.cause,
  });
}
