/**
 * Datagrams: how frames travel over UDP beside the TCP session.
 *
 * ```
 * datagram = header session sequence body tag
 * header   = 1 byte: (protocol version << 4) | direction | type
 *            direction = 0x08 from the server, 0x00 from the client
 *            type      = 0 hello, 1 unreliable, 2 sequenced
 * session  = uint32: the session id the server gave in `Handshake.udpSession`
 * sequence = uint32: the sender's count of datagrams in this direction, from 0
 * body     = hello: time uint32, echo uint32
 *          | unreliable, sequenced: one or more frames, laid out as on TCP
 * tag      = 16 bytes: HMAC-SHA-256 of header..body under the session key, first 16 bytes
 * ```
 *
 * This module reads and writes the layout; the tag is computed where the key lives
 * (`transport/datagram_key.ts`).
 *
 * @module
 */

import { BinaryReader } from "./binary_reader.ts";
import { BinaryWriter } from "./binary_writer.ts";
import { PROTOCOL_VERSION } from "./constants.ts";
import { readFrameContent, readLengthPrefix } from "./decode_frame.ts";
import { ProtocolError } from "./errors.ts";
import type { Frame, FrameReadOptions } from "./frame.ts";

/** What a datagram is: a hello (path proof and UDP round trip), or frames of a delivery class. */
export const DatagramType = {
  /** From the client, the proof of its address; from the server, the answer to it. */
  Hello: 0,
  /** Frames that may be lost or reordered. */
  Unreliable: 1,
  /** Frames of which only the latest per event or message is delivered. */
  Sequenced: 2,
} as const;

/** One of the values of {@linkcode DatagramType}. */
export type DatagramType = typeof DatagramType[keyof typeof DatagramType];

/** The header bit set on datagrams the server sends. */
export const FROM_SERVER = 0x08;
/** Bytes before the body: header, session, sequence. */
export const DATAGRAM_HEADER_SIZE = 9;
/** Bytes of the authentication tag at the end. */
export const DATAGRAM_TAG_SIZE = 16;
/** Bytes a datagram adds to its frames: header, session, sequence and tag. */
export const DATAGRAM_OVERHEAD: number = DATAGRAM_HEADER_SIZE + DATAGRAM_TAG_SIZE;
/** Bytes of a hello's body: the sender's time and the echo of the peer's. */
export const HELLO_BODY_SIZE = 8;
/** The size of every hello, either way (so an answer is never larger than what it answers). */
export const HELLO_SIZE: number = DATAGRAM_OVERHEAD + HELLO_BODY_SIZE;
/**
 * The default largest datagram, in bytes of UDP payload, overhead included: small enough to
 * cross any path without IP fragmentation (the size QUIC assumes).
 */
export const DEFAULT_MAX_DATAGRAM_SIZE = 1200;

/** The fixed part of a datagram, read without the key. */
export interface DatagramHeader {
  /** Whether the server sent it. */
  readonly fromServer: boolean;
  /** Hello, unreliable or sequenced. */
  readonly type: DatagramType;
  /** The session id. */
  readonly session: number;
  /** The sender's sequence number. */
  readonly sequence: number;
}

/** A hello's body: the sender's clock and the last clock value it heard from the peer. */
export interface HelloBody {
  /** The sender's clock, in milliseconds mod 2^32. */
  readonly time: number;
  /** The peer's clock from its last hello, echoed (0 when none was heard). */
  readonly echo: number;
}

/**
 * Reads a datagram's header and checks its size, without the key.
 *
 * @param datagram The UDP payload.
 * @returns The header.
 * @throws {ProtocolError} `truncated` when the datagram cannot hold a header, a tag and a body
 *   of its type; `unsupported_version` for another protocol version; `unknown_frame_kind` for
 *   an unknown type.
 */
export function readDatagramHeader(datagram: Uint8Array): DatagramHeader {
  if (datagram.length < DATAGRAM_OVERHEAD + 1) {
    throw new ProtocolError(
      "truncated",
      `Cannot decode datagram: ${datagram.length} bytes, at least ${DATAGRAM_OVERHEAD + 1} needed`,
      { offset: 0 },
    );
  }
  const header = datagram[0]!;
  if (header >> 4 !== PROTOCOL_VERSION) {
    throw new ProtocolError(
      "unsupported_version",
      `Cannot decode datagram: protocol version ${header >> 4}, expected ${PROTOCOL_VERSION}`,
      { offset: 0 },
    );
  }
  const type = header & 0x07;
  if (type > DatagramType.Sequenced) {
    throw new ProtocolError("unknown_frame_kind", `Cannot decode datagram: unknown type ${type}`, {
      offset: 0,
    });
  }
  if (type === DatagramType.Hello && datagram.length !== HELLO_SIZE) {
    throw new ProtocolError(
      "truncated",
      `Cannot decode datagram: a hello has ${HELLO_SIZE} bytes, this one ${datagram.length}`,
      { offset: 0 },
    );
  }
  const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  return {
    fromServer: (header & FROM_SERVER) !== 0,
    type: type as DatagramType,
    session: view.getUint32(1),
    sequence: view.getUint32(5),
  };
}

/**
 * Writes a datagram's header into the first `DATAGRAM_HEADER_SIZE` bytes of `datagram`.
 *
 * @param datagram Where to write: the whole datagram, body and room for the tag included.
 * @param header Direction, type, session and sequence.
 */
export function writeDatagramHeader(datagram: Uint8Array, header: DatagramHeader): void {
  datagram[0] = (PROTOCOL_VERSION << 4) | (header.fromServer ? FROM_SERVER : 0) | header.type;
  const view = new DataView(datagram.buffer, datagram.byteOffset, DATAGRAM_HEADER_SIZE);
  view.setUint32(1, header.session);
  view.setUint32(5, header.sequence);
}

/**
 * Writes a datagram with room for its tag (left zero, for the key's holder to fill).
 *
 * @param header Direction, type, session and sequence.
 * @param body The frames (or a hello's body).
 * @returns The datagram, `DATAGRAM_OVERHEAD` bytes longer than the body.
 */
export function writeDatagram(header: DatagramHeader, body: Uint8Array): Uint8Array {
  const datagram = new Uint8Array(DATAGRAM_OVERHEAD + body.length);
  writeDatagramHeader(datagram, header);
  datagram.set(body, DATAGRAM_HEADER_SIZE);
  return datagram;
}

/**
 * The body of a datagram: what lies between the header and the tag.
 *
 * @param datagram The datagram.
 * @returns A view of its body.
 */
export function datagramBody(datagram: Uint8Array): Uint8Array {
  return datagram.subarray(DATAGRAM_HEADER_SIZE, datagram.length - DATAGRAM_TAG_SIZE);
}

/**
 * Encodes a hello's body.
 *
 * @param hello The sender's time and the echo.
 * @returns Eight bytes.
 */
export function encodeHello(hello: HelloBody): Uint8Array {
  const writer = new BinaryWriter(HELLO_BODY_SIZE);
  writer.uint32(hello.time >>> 0);
  writer.uint32(hello.echo >>> 0);
  return writer.bytes.slice(0, HELLO_BODY_SIZE);
}

/**
 * Decodes a hello's body.
 *
 * @param body Eight bytes.
 * @returns The sender's time and the echo.
 */
export function decodeHello(body: Uint8Array): HelloBody {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  return { time: view.getUint32(0), echo: view.getUint32(4) };
}

/**
 * Decodes the frames of a datagram's body: complete, length-prefixed frames laid end to end, as
 * on TCP. A frame may not cross the end of the body.
 *
 * @param body The body.
 * @param options The schemas, channels and size limit, as for a stream.
 * @returns The frames, in order; their offsets count from the start of the body.
 * @throws {ProtocolError} For an empty body, or any fault in a frame.
 */
export function decodeDatagramFrames(body: Uint8Array, options: FrameReadOptions = {}): Frame[] {
  if (body.length === 0) {
    throw new ProtocolError("truncated", "Cannot decode datagram: no frames", { offset: 0 });
  }
  const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_DATAGRAM_SIZE;
  const frames: Frame[] = [];
  let pos = 0;
  while (pos < body.length) {
    const reader = new BinaryReader(body, pos, body.length, 0);
    const length = readLengthPrefix(reader, maxFrameSize);
    pos = reader.pos;
    if (pos + length > body.length) {
      throw new ProtocolError(
        "truncated",
        `Cannot decode datagram: a frame of ${length} bytes runs past the body`,
        { offset: pos },
      );
    }
    frames.push(readFrameContent(body, pos, pos + length, 0, options));
    pos += length;
  }
  return frames;
}
