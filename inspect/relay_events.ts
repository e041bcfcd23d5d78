/**
 * What a `PacketRelay` reports: chunks, decoded packets, notes, errors, the connections'
 * opening, ends and closing, and, when it relays UDP, datagrams, UDP peers and warnings.
 *
 * @module
 */

import type { DatagramHeader, HelloBody, ProtocolError } from "../protocol/mod.ts";
import type { CapturedPacket, CaptureFault, CaptureNote } from "./capture_decoder.ts";
import type { RelayCaptureChunk, RelayDirection } from "./relay_capture.ts";

/** A chunk the relay read, before it forwarded it: what a capture file records. */
export interface RelayChunkEvent extends RelayCaptureChunk {
  /** Always `chunk`. */
  readonly type: "chunk";
}

/** A connection whose target connection is up: bytes flow from now on. */
export interface RelayOpenEvent {
  /** Always `open`. */
  readonly type: "open";
  /** The connection's number: 1 for the first the relay accepted. */
  readonly conn: number;
  /** Seconds since the relay started. */
  readonly time: number;
  /** The client's address, e.g. `127.0.0.1:50122`. */
  readonly client: string;
  /** The server's (the target's) address. */
  readonly server: string;
}

/** A frame that crossed the relay, decoded. */
export interface RelayPacketEvent {
  /** Always `packet`. */
  readonly type: "packet";
  /** The connection's number. */
  readonly conn: number;
  /** Who sent it. */
  readonly direction: RelayDirection;
  /** Seconds since the relay started, when the frame's last byte arrived. */
  readonly time: number;
  /** The decoded packet; `src` and `dst` are `client N` and `server N`. */
  readonly entry: CapturedPacket;
  /** The frame's bytes, length prefix included. */
  readonly bytes: Uint8Array;
}

/** Bytes that did not make a frame: an unfinished frame at a stream's end, or bytes after an error. */
export interface RelayNoteEvent {
  /** Always `note`. */
  readonly type: "note";
  /** The connection's number. */
  readonly conn: number;
  /** Who sent the bytes. */
  readonly direction: RelayDirection;
  /** Seconds since the relay started. */
  readonly time: number;
  /** What happened, and where in the stream. */
  readonly entry: CaptureNote;
  /** The bytes the note is about. */
  readonly bytes: Uint8Array;
}

/**
 * Bytes that do not decode. The relay forwards them and everything after them unchanged, but
 * decodes no more of that direction: its later chunks come as notes.
 */
export interface RelayErrorEvent {
  /** Always `error`. */
  readonly type: "error";
  /** The connection's number. */
  readonly conn: number;
  /** Who sent the bytes. */
  readonly direction: RelayDirection;
  /** Seconds since the relay started. */
  readonly time: number;
  /** The error, with its offset in the stream. */
  readonly fault: CaptureFault;
  /** The bytes received so far from the start of the frame that failed. */
  readonly bytes: Uint8Array;
}

/** One side stopped sending: it ended (FIN) or failed (a reset, or bytes it cannot take). */
export interface RelayEndEvent {
  /** Always `end`. */
  readonly type: "end";
  /** The connection's number. */
  readonly conn: number;
  /** The direction that stopped. */
  readonly direction: RelayDirection;
  /** Seconds since the relay started. */
  readonly time: number;
  /**
   * `end`: the sender closed its side, and the relay closed the receiver's write side in turn;
   * `reset`: a side failed, and the relay closed both.
   */
  readonly how: "end" | "reset";
  /** What happened, for people. */
  readonly message: string;
}

/** A connection is over: both directions ended, or the target could not be reached. */
export interface RelayCloseEvent {
  /** Always `close`. */
  readonly type: "close";
  /** The connection's number. */
  readonly conn: number;
  /** Seconds since the relay started. */
  readonly time: number;
  /** How many bytes the relay read in each direction. */
  readonly bytes: Readonly<Record<RelayDirection, number>>;
  /** Why the connection never opened, when it did not. */
  readonly error?: string;
}

/**
 * A datagram that crossed the relay (it is forwarded before it is decoded, and whether or not it
 * decodes).
 */
export interface RelayDatagramEvent {
  /** Always `datagram`. */
  readonly type: "datagram";
  /**
   * The TCP connection whose `Handshake` announced the datagram's session (`udpSession`), while
   * that connection is open; `undefined` when the relay saw no such connection.
   */
  readonly conn: number | undefined;
  /** The UDP peer: the number of the client's address (ip:port), 1 for the first. */
  readonly peer: number;
  /** Who sent it, from the socket it came in on. */
  readonly direction: RelayDirection;
  /** Seconds since the relay started, when it arrived. */
  readonly time: number;
  /** The header, unless the datagram is too short or malformed to have one. */
  readonly header: DatagramHeader | undefined;
  /**
   * Whether its tag is the one the session's key (`udpKey` in the `Handshake`) makes; `undefined`
   * when it was not checked: the relay did not see that key, or the datagram has no header.
   */
  readonly tag: "ok" | "bad" | undefined;
  /** A hello's time and echo. */
  readonly hello: HelloBody | undefined;
  /**
   * The frames of an unreliable or sequenced datagram, decoded as on TCP. Their `number` is
   * their place in the datagram, from 1; their frame's `offset` counts from the datagram's
   * first byte.
   */
  readonly packets: readonly CapturedPacket[];
  /** Why the datagram does not decode (its offset counts from its first byte), if it does not. */
  readonly fault: ProtocolError | undefined;
  /** The datagram's bytes, tag included. */
  readonly bytes: Uint8Array;
}

/**
 * A new UDP peer: a client address the relay had not seen, and the relay's own socket that
 * sends its datagrams on to the server (so the server sees each client from its own port).
 */
export interface RelayPeerEvent {
  /** Always `peer`. */
  readonly type: "peer";
  /** The peer's number: 1 for the first client address. */
  readonly peer: number;
  /** Seconds since the relay started. */
  readonly time: number;
  /** The client's address, e.g. `127.0.0.1:50130`. */
  readonly client: string;
  /** The address of the relay's socket for this client, e.g. `127.0.0.1:50131`. */
  readonly upstream: string;
  /** The server's UDP address. */
  readonly server: string;
}

/**
 * Something the relay cannot fix but should say: a `Handshake` whose UDP announcement makes
 * clients miss the relay (each such warning once per relay), or a client's datagrams that the
 * relay could not forward.
 */
export interface RelayWarningEvent {
  /** Always `warning`. */
  readonly type: "warning";
  /** The connection it is about, if any. */
  readonly conn: number | undefined;
  /** Seconds since the relay started. */
  readonly time: number;
  /** What is wrong, for people. */
  readonly message: string;
}

/** Everything a `PacketRelay` reports, in the order it happened. */
export type RelayEvent =
  | RelayChunkEvent
  | RelayOpenEvent
  | RelayPacketEvent
  | RelayNoteEvent
  | RelayErrorEvent
  | RelayEndEvent
  | RelayCloseEvent
  | RelayDatagramEvent
  | RelayPeerEvent
  | RelayWarningEvent;
