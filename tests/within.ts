/**
 * A bound on awaiting: the feature tests await events that a bug could keep from ever coming, and
 * a test should then fail with a message rather than hang.
 */

import assert from "node:assert/strict";
import type { Frame } from "../protocol/mod.ts";
import type { ClientSocket, GameSocketClient } from "../client.ts";
import type { Namespace, ServerSocket } from "../server.ts";
import { nextEvent, type RawPeer } from "./harness.ts";

/** How long a test waits for something that should come at once, in milliseconds. */
export const EVENT_DEADLINE = 3000;

/**
 * Settles as `promise` does, or rejects when `ms` milliseconds pass first. The timer is cleared
 * either way, so the op sanitizer sees nothing left behind.
 *
 * @param promise What to await.
 * @param what What is awaited, for the message.
 * @param ms The bound.
 * @returns What `promise` resolves with.
 */
export async function within<T>(
  promise: Promise<T>,
  what = "an event",
  ms = EVENT_DEADLINE,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Waited ${ms} ms for ${what} in vain`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The arguments of the next `event` of an emitter, within {@linkcode EVENT_DEADLINE}.
 *
 * @param target The emitter.
 * @param event The event.
 * @returns Its arguments.
 */
export function eventOf<Args extends unknown[] = unknown[]>(
  // deno-lint-ignore no-explicit-any
  target: { once(event: any, listener: (...args: any[]) => void): unknown },
  event: string,
): Promise<Args> {
  return within(nextEvent<Args>(target, event), `"${event}"`);
}

/**
 * The peer's next frame, within {@linkcode EVENT_DEADLINE}.
 *
 * @param peer The raw peer.
 * @returns The frame, or `undefined` when the stream ended.
 */
export function nextFrame(peer: RawPeer): Promise<Frame | undefined> {
  return within(peer.next(), "a frame");
}

/**
 * The peer's frames until the stream ends, within {@linkcode EVENT_DEADLINE}.
 *
 * @param peer The raw peer.
 * @returns The frames.
 */
export function restFrames(peer: RawPeer): Promise<Frame[]> {
  return within(peer.rest(), "the end of the stream");
}

/**
 * Asserts that `promise` rejects (within {@linkcode EVENT_DEADLINE}) with an instance of
 * `type`, and returns the error.
 *
 * @param promise What should reject.
 * @param type The error class.
 * @returns The error.
 */
export async function rejection<E extends Error>(
  promise: Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
): Promise<E> {
  let caught: unknown;
  await assert.rejects(
    within(promise, `a ${type.name}`).catch((error: unknown) => {
      caught = error;
      throw error;
    }),
    type,
  );
  return caught as E;
}

/**
 * Starts an acknowledged `echo` on a client's `/` now, to be awaited after a fault. Marked
 * handled, so that when the test fails first, its own assertion is reported rather than this
 * promise's rejection.
 *
 * @param client A client of a server whose `/` answers `echo` with its payload.
 * @param value The payload.
 * @returns The reply.
 */
export function echoInFlight(client: GameSocketClient, value: number | string): Promise<unknown> {
  const reply = client.root!.emitWithAck("echo", value, { timeout: 2000 });
  reply.catch(() => {});
  return reply;
}

/**
 * Asserts that a well-behaved client still gets its acknowledgements.
 *
 * @param client A client of a server whose `/` answers `echo` with its payload.
 * @param value The payload.
 */
export async function assertEchoes(client: GameSocketClient, value: number): Promise<void> {
  assert.equal(await within(echoInFlight(client, value), "an echo"), value);
}

/**
 * The `/home` socket of a connected client, once its handshake is in.
 *
 * @param client The client.
 * @returns Its socket of `/home`.
 */
export async function home(client: GameSocketClient): Promise<ClientSocket> {
  return await within(client.of("/home").ready, "the handshake of /home");
}

/**
 * The server's socket of a connected client socket.
 *
 * @param nsp The namespace.
 * @param socket The client's socket.
 * @returns The server's socket with the same id.
 */
export function serverSide(nsp: Namespace, socket: ClientSocket): ServerSocket {
  const found = nsp.sockets.get(socket.id!);
  assert.ok(found, `the server has no socket ${socket.id} in ${nsp.name}`);
  return found;
}
