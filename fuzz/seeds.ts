/**
 * The inputs the decoder fuzzer starts from: a valid frame of every built-in schema, frames of
 * an application schema, raw frames, whole streams and datagrams. Mutations of valid inputs reach
 * the decoders' deep paths far sooner than random bytes.
 *
 * @module
 */

import { PlayerState, sample } from "../bench/player_state.ts";
import {
  Ack,
  concatBytes,
  Connect,
  DatagramType,
  Disconnect,
  encodeFrame,
  encodeHello,
  encodeRawFrame,
  ErrorMessage,
  Event,
  EventName,
  Handshake,
  MemberEntered,
  MemberLeft,
  Ping,
  Pong,
  RoomCreate,
  RoomDelete,
  RoomEvent,
  RoomJoin,
  RoomJoined,
  RoomJoinError,
  RoomLeave,
  RoomLeft,
  SessionAck,
  writeDatagram,
} from "../protocol/mod.ts";

const bytes = (...values: number[]) => Uint8Array.from(values);

/** One valid frame of each built-in schema, some with every optional field. */
export function builtinFrames(): Uint8Array[] {
  return [
    encodeFrame(Connect, {
      namespace: "/",
      channel: 0,
      protocolVersion: 1,
      schemaFingerprint: "cbf29ce484222325",
      auth: bytes(0x7b, 0x7d),
      sessionId: "s".repeat(22),
      recoveryToken: new Uint8Array(32),
      received: 300,
    }),
    encodeFrame(Connect, { namespace: "/home", channel: 1 }),
    encodeFrame(Handshake, {
      namespace: "/",
      channel: 0,
      socketId: "A".repeat(22),
      protocolVersion: 1,
      schemaFingerprint: "cbf29ce484222325",
      heartbeatInterval: 5000,
      heartbeatTimeout: 15000,
      maxFrameSize: 65536,
      sessionId: "B".repeat(22),
      recoveryToken: new Uint8Array(32).fill(7),
      recovered: true,
      udpPort: 3103,
      udpKey: new Uint8Array(32).fill(9),
      udpSession: 0xfffffffe,
      received: 16384,
    }),
    encodeFrame(Disconnect, { reason: "client disconnect" }, { channel: 2 }),
    encodeFrame(Ping, { timestamp: 0xffffffff }),
    encodeFrame(Pong, { timestamp: 1000 }),
    encodeFrame(ErrorMessage, { code: 4, message: "Вася", namespace: "/home" }),
    encodeFrame(EventName, { id: 4095, name: "move" }),
    encodeFrame(Event, { event: 3, payloadType: 3, payload: bytes(0x31), ackId: 2 ** 31 }),
    encodeFrame(Ack, { ackId: 1, payloadType: 0, error: "no handler" }, { channel: 300 }),
    encodeFrame(SessionAck, { received: 128 }),
    encodeFrame(RoomJoin, { room: "r", leave: "l", key: "k", player: "p", requestId: 9 }),
    encodeFrame(RoomJoinError, { room: "r", code: 8, message: "full", requestId: 9 }),
    encodeFrame(RoomLeave, { room: "lobby" }),
    encodeFrame(RoomCreate, { room: "r", key: "k", capacity: 4, metadata: bytes(1, 2) }),
    encodeFrame(RoomDelete, { room: "r" }),
    encodeFrame(RoomJoined, { room: "r" }),
    encodeFrame(RoomLeft, { room: "r" }),
    encodeFrame(MemberEntered, { room: "r", socketId: "C".repeat(22), player: "Ada" }),
    encodeFrame(MemberLeft, { room: "r", socketId: "C".repeat(22) }),
    encodeFrame(RoomEvent, { room: "r", event: 1, payloadType: 2, payload: bytes(0x68) }),
  ].map((frame) => frame.slice());
}

/** Every seed input: single frames, streams of several, and datagrams. */
export function seedInputs(): Uint8Array[] {
  const frames = builtinFrames();
  const message = encodeFrame(PlayerState, { ...sample, name: "Вася" }, { channel: 1 }).slice();
  const raw = encodeRawFrame(bytes(0xca, 0xfe), { channel: 300 }).slice();
  const header = { fromServer: false, type: DatagramType.Unreliable, session: 7, sequence: 1 };
  return [
    ...frames,
    message,
    raw,
    concatBytes(frames),
    writeDatagram(header, concatBytes([frames[7]!, frames[8]!, message])),
    writeDatagram({ ...header, type: DatagramType.Hello }, encodeHello({ time: 1, echo: 2 })),
  ];
}
