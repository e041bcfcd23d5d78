/**
 * The seed's example flow, frame by frame: the client connects to "/", then "/home", joins
 * "lobby" and sends `hello` with "hello all"; the server relays it to the room. docs/PROTOCOL.md
 * prints this transcript in hex; tests check the document against these frames byte for byte,
 * and the server's tests replay it.
 *
 * Socket ids (22 base64url characters, 128 random bits) and heartbeat settings are fixed here
 * so the bytes are reproducible.
 */

import {
  Connect,
  encodeEntryList,
  encodeFrame,
  EventName,
  Handshake,
  PayloadType,
  PROTOCOL_VERSION,
  RoomEvent,
  RoomJoin,
  RoomJoined,
  RoomMemberEntry,
  SchemaRegistry,
} from "../../protocol/mod.ts";

/** Who sends a frame of the transcript. */
export type Direction = "C>S" | "S>C";

/** One frame of the transcript. */
export interface TranscriptFrame {
  direction: Direction;
  /** What the frame is, for people. */
  note: string;
  bytes: Uint8Array;
}

/** The application's schema set in the seed flow: none (it uses events only). */
export const SEED_SCHEMAS: SchemaRegistry = new SchemaRegistry();

/** The socket id the server gives the client on "/". */
export const ROOT_SOCKET_ID = "FUZqviAGRk6Ztsizb39O2A";
/** The socket id the server gives the client on "/home". */
export const HOME_SOCKET_ID = "nB4NL0eoS26NOl97LE5qgA";
/** Heartbeat settings announced in the handshakes. */
export const HEARTBEAT = { heartbeatInterval: 5000, heartbeatTimeout: 15000 } as const;
/** The largest frame the server accepts, announced in the handshakes. */
export const MAX_FRAME_SIZE = 65536;

const text = (value: string) => new TextEncoder().encode(value);
const copy = (bytes: Uint8Array) => bytes.slice();

/** The server's handshake for `namespace` on `channel`, giving the client `socketId`. */
function handshake(namespace: string, channel: number, socketId: string): Uint8Array {
  return copy(encodeFrame(Handshake, {
    namespace,
    channel,
    socketId,
    protocolVersion: PROTOCOL_VERSION,
    schemaFingerprint: SEED_SCHEMAS.fingerprint,
    ...HEARTBEAT,
    maxFrameSize: MAX_FRAME_SIZE,
  }, { channel }));
}

/** The transcript, in the order the frames cross the connection. */
export const SEED_FLOW: readonly TranscriptFrame[] = [
  {
    direction: "C>S",
    note: 'Connect "/" on channel 0, with protocol version and schema fingerprint',
    bytes: copy(encodeFrame(Connect, {
      namespace: "/",
      channel: 0,
      protocolVersion: PROTOCOL_VERSION,
      schemaFingerprint: SEED_SCHEMAS.fingerprint,
    })),
  },
  {
    direction: "S>C",
    note: 'Handshake "/" on channel 0',
    bytes: handshake("/", 0, ROOT_SOCKET_ID),
  },
  {
    direction: "C>S",
    note: 'Connect "/home" on channel 1 (sent on channel 0)',
    bytes: copy(encodeFrame(Connect, { namespace: "/home", channel: 1 })),
  },
  {
    direction: "S>C",
    note: 'Handshake "/home" on channel 1',
    bytes: handshake("/home", 1, HOME_SOCKET_ID),
  },
  {
    direction: "C>S",
    note: 'RoomJoin "lobby" on channel 1',
    bytes: copy(encodeFrame(RoomJoin, { room: "lobby" }, { channel: 1 })),
  },
  {
    direction: "S>C",
    note: 'RoomJoined "lobby" on channel 1: player 1, the only member, no capacity, metadata {}',
    bytes: copy(encodeFrame(RoomJoined, {
      room: "lobby",
      playerId: 1,
      members: encodeEntryList(RoomMemberEntry, [{ socketId: HOME_SOCKET_ID, playerId: 1 }]),
      memberCount: 1,
      metadata: text("{}"),
    }, { channel: 1 })),
  },
  {
    direction: "C>S",
    note: 'EventName 0 = "hello" (client to server direction)',
    bytes: copy(encodeFrame(EventName, { id: 0, name: "hello" })),
  },
  {
    direction: "C>S",
    note: 'RoomEvent to "lobby": event 0 (hello), string "hello all"',
    bytes: copy(encodeFrame(RoomEvent, {
      room: "lobby",
      event: 0,
      payloadType: PayloadType.String,
      payload: text("hello all"),
    }, { channel: 1 })),
  },
  {
    direction: "S>C",
    note: 'EventName 0 = "hello" (server to client direction)',
    bytes: copy(encodeFrame(EventName, { id: 0, name: "hello" })),
  },
  {
    direction: "S>C",
    note: 'RoomEvent from "lobby": event 0 (hello), "hello all", sender is the /home socket',
    bytes: copy(encodeFrame(RoomEvent, {
      room: "lobby",
      event: 0,
      payloadType: PayloadType.String,
      payload: text("hello all"),
      sender: HOME_SOCKET_ID,
    }, { channel: 1 })),
  },
];

/** Formats bytes as lowercase hex pairs separated by spaces. */
export function toHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}

if (import.meta.main) {
  for (const frame of SEED_FLOW) {
    console.log(`${frame.direction} ${toHex(frame.bytes)}  # ${frame.note}`);
  }
}
