/**
 * Probing a server by hand, for the fault and limit tests: an echo server, a raw peer past its
 * handshake, and the frames and events that tell what the server did.
 */

import assert from "node:assert/strict";
import {
  encodeFrame,
  type ErrorCode,
  ErrorMessage,
  Event,
  type Frame,
  Handshake,
} from "../protocol/mod.ts";
import type {
  ConnectionClosedInfo,
  GameSocketServer,
  GameSocketServerOptions,
  ServerSocket,
} from "../server.ts";
import type { DisconnectReason } from "../client.ts";
import { nextEvent, RawPeer, rootConnect, startServer, type TestServer } from "./harness.ts";
import { eventOf, nextFrame } from "./within.ts";

/** A server whose `/` and `/game` sockets answer `echo` with its payload. */
export async function startEchoServer(options: GameSocketServerOptions = {}): Promise<TestServer> {
  const test = await startServer(options);
  const echo = (socket: ServerSocket) => socket.on("echo", (value) => value);
  test.server.on("connection", echo);
  test.server.of("/game").on("connection", echo);
  return test;
}

/** A raw peer that has completed the handshake of `/`, and its socket on the server. */
export async function handshakenPeer(
  test: TestServer,
): Promise<{ peer: RawPeer; socket: ServerSocket; gone: Promise<[DisconnectReason]> }> {
  const accepted = eventOf<[ServerSocket]>(test.server.root, "connection");
  const peer = await RawPeer.connect(test.port);
  await peer.write(rootConnect());
  const handshake = await nextFrame(peer);
  assert.ok(handshake?.type === "control" && handshake.schema === Handshake);
  const [socket] = await accepted;
  // Bounded where it is awaited: a deadline started now could expire unawaited.
  return { peer, socket, gone: nextEvent<[DisconnectReason]>(socket, "disconnect") };
}

/** Asserts that a frame is an `Error` on channel 0 with `code`; returns its fields. */
export function assertErrorFrame(
  frame: Frame | undefined,
  code: ErrorCode,
): Record<string, unknown> {
  assert.ok(frame?.type === "control", `expected an Error frame, got ${frame?.type}`);
  assert.equal(frame.schema, ErrorMessage);
  assert.equal(frame.channel, 0);
  assert.equal(frame.value.code, code);
  return frame.value;
}

/** The bytes of an event frame with an application-chosen event id. */
export function eventFrame(event: number, channel = 0): Uint8Array {
  return encodeFrame(Event, { event, payloadType: 0 }, { channel }).slice();
}

/** Resolves with the next `connection_closed` event's info. */
export function nextClose(server: GameSocketServer): Promise<ConnectionClosedInfo> {
  return new Promise((resolve) => server.once("connection_closed", resolve));
}
