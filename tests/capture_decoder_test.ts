import assert from "node:assert/strict";
import {
  Connect,
  encodeEntryList,
  encodeFrame,
  Handshake,
  Ping,
  PROTOCOL_VERSION,
  RoomJoined,
  RoomList,
  RoomListing,
  RoomMemberEntry,
} from "../protocol/mod.ts";
import { type CaptureStream, decodeCapture, decodeStreams, formatEntry } from "../inspect/mod.ts";

const ping = (timestamp: number) => encodeFrame(Ping, { timestamp }).slice();
const handshake = (namespace: string, channel: number) =>
  encodeFrame(Handshake, {
    namespace,
    channel,
    socketId: "s",
    protocolVersion: PROTOCOL_VERSION,
    schemaFingerprint: "f",
    heartbeatInterval: 1,
    heartbeatTimeout: 2,
    maxFrameSize: 3,
  }, { channel }).slice();

function stream(
  parts: Uint8Array[],
  options: { startKnown?: boolean; gapBefore?: number[]; src?: string; dst?: string } = {},
): CaptureStream {
  return {
    ...(options.src === undefined ? {} : { src: options.src, dst: options.dst! }),
    chunks: parts.map((data, packet) => ({
      packet,
      data,
      gapBefore: options.gapBefore?.includes(packet) ?? false,
    })),
    startKnown: options.startKnown ?? false,
  };
}

const text = (streams: CaptureStream[]) =>
  decodeStreams(streams).entries.map((entry) => formatEntry(entry));

Deno.test("decodeStreams names a channel once a handshake in either direction named it", () => {
  const client = {
    src: "c",
    dst: "s",
  };
  const server = { src: "s", dst: "c" };
  const beforeName = encodeFrame(Ping, { timestamp: 1 }, { channel: 1 }).slice();
  const streams = [
    {
      ...client,
      startKnown: true,
      chunks: [
        { packet: 0, data: beforeName, gapBefore: false },
        {
          packet: 2,
          data: encodeFrame(Ping, { timestamp: 2 }, { channel: 1 }).slice(),
          gapBefore: false,
        },
      ],
    },
    {
      ...server,
      startKnown: true,
      chunks: [{ packet: 1, data: handshake("/home", 1), gapBefore: false }],
    },
  ];
  const lines = text(streams);
  assert.match(lines[0]!, /^#1 Ping channel 1 /);
  assert.match(lines[1]!, /^#2 Handshake \/home /);
  assert.match(lines[2]!, /^#3 Ping \/home /);
});

Deno.test("decodeStreams learns a namespace from the client's Connect", () => {
  const connect = encodeFrame(Connect, { namespace: "/arena", channel: 7 }).slice();
  const lines = text([stream([connect, encodeFrame(Ping, { timestamp: 1 }, { channel: 7 })])]);
  assert.match(lines[1]!, /^#2 Ping \/arena /);
});

Deno.test("decodeStreams resynchronises after a gap in the capture and says so", () => {
  const second = ping(2);
  const lines = text([stream([ping(1), second.subarray(4), ping(3)], { gapBefore: [1] })]);
  assert.deepEqual(lines, [
    "#1 Ping / {timestamp: 1}",
    "note: bytes missing from the capture here (at byte 9)",
    "note: capture starts mid-frame: skipped 5 bytes to the next frame (at byte 9)",
    "#2 Ping / {timestamp: 3}",
  ]);
});

Deno.test("decodeStreams does not skip bytes of a stream whose start was captured", () => {
  const { entries, faults } = decodeStreams([
    stream([ping(1).subarray(2), ping(2)], { startKnown: true }),
  ]);
  assert.equal(entries.length, 0);
  assert.equal(faults.length, 1);
  assert.equal(faults[0]!.error.offset, 0);
});

Deno.test("decodeStreams reports corruption after good frames at its stream offset", () => {
  const bad = ping(2);
  bad[1] = 0x1f; // kind 15
  const { entries, faults } = decodeStreams([stream([ping(1), bad])]);
  assert.equal(entries.length, 1);
  assert.equal(faults[0]!.error.code, "unknown_frame_kind");
  assert.equal(faults[0]!.error.offset, 10);
});

Deno.test("decodeStreams orders packets of several streams by the packet that completed them", () => {
  const whole = ping(1);
  const streams = [
    stream([whole.subarray(0, 4), new Uint8Array(), whole.subarray(4)], { src: "a", dst: "b" }),
    {
      ...stream([ping(2)], { src: "b", dst: "a" }),
      chunks: [{ packet: 1, data: ping(2), gapBefore: false }],
    },
  ];
  const lines = text(streams);
  assert.deepEqual(lines, ["#1 Ping / {timestamp: 2}", "#2 Ping / {timestamp: 1}"]);
});

Deno.test("Room frames show their members, rooms and metadata as what they hold, not as bytes", () => {
  const text = new TextEncoder();
  const joined = encodeFrame(RoomJoined, {
    room: "table",
    playerId: 2,
    members: encodeEntryList(RoomMemberEntry, [
      { socketId: "a", player: "ann", playerId: 1 },
      { socketId: "b", playerId: 2 },
    ]),
    memberCount: 2,
    metadata: text.encode('{"map":"dust"}'),
  });
  const list = encodeFrame(RoomList, {
    requestId: 7,
    rooms: encodeEntryList(RoomListing, [
      { room: "table", members: 2, capacity: 4, metadata: text.encode("{}"), locked: true },
    ]),
  });
  const hex = [...joined, ...list].map((byte) => byte.toString(16).padStart(2, "0")).join(" ");
  const lines = decodeCapture(hex).entries.map((entry) => formatEntry(entry));
  assert.deepEqual(lines, [
    '#1 RoomJoined / {room: "table", playerId: 2, members: [{socketId: "a", player: "ann", playerId: 1}, {socketId: "b", playerId: 2}], memberCount: 2, metadata: json {"map":"dust"}}',
    '#2 RoomList / {requestId: 7, rooms: [{room: "table", members: 2, capacity: 4, metadata: json {}, locked: true}]}',
  ]);
});
