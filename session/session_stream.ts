/**
 * The counted frames of a recoverable session, on either side: what this side sent and the peer
 * has not confirmed (kept for replay), how many the peer's frames this side has received, and when
 * to say so (`SessionAck`).
 *
 * Every frame of the session counts except heartbeats (`Ping`, `Pong`), `SessionAck` itself, and
 * the frames that open and end the session: `Connect` of `/`, the `Handshake` of `/`, `Disconnect`
 * on channel 0, and an `Error` about `/`.
 *
 * @module
 */

import {
  Connect,
  Disconnect,
  encodeFrame,
  ErrorMessage,
  type Frame,
  Handshake,
  Ping,
  Pong,
  ROOT_CHANNEL,
  SessionAck,
} from "../protocol/mod.ts";
import { ReplayBuffer, type ReplayBufferLimits } from "./replay_buffer.ts";

/** A receiver confirms what it has after this many counted frames (and on each heartbeat). */
export const ACK_EVERY = 64;

/**
 * Whether a received frame counts in the session.
 *
 * @param frame The frame.
 * @returns `false` for heartbeats, acks and the frames that open and end the session.
 */
export function isCounted(frame: Frame): boolean {
  if (frame.type !== "control" || frame.channel !== ROOT_CHANNEL) return true;
  const schema = frame.schema;
  if (schema === Ping || schema === Pong || schema === SessionAck) return false;
  if (schema === Handshake || schema === Disconnect) return false;
  if (schema === Connect) return (frame.value as { namespace: string }).namespace !== "/";
  if (schema === ErrorMessage) {
    const namespace = (frame.value as { namespace?: string }).namespace;
    return namespace !== undefined && namespace !== "/";
  }
  return true;
}

/** One side's count of a session's frames. */
export class SessionStream {
  /** How many of the peer's counted frames this side has received. */
  received = 0;
  #told = 0;
  #buffer: ReplayBuffer | undefined;
  #limits: ReplayBufferLimits;

  /**
   * Starts a count.
   *
   * @param limits The most unconfirmed frames and bytes kept for replay.
   */
  constructor(limits: ReplayBufferLimits) {
    this.#limits = limits;
  }

  /** How many counted frames this side has sent. */
  get sent(): number {
    return this.#buffer?.sent ?? 0;
  }

  /** Whether every unconfirmed frame is still kept (else the session cannot be recovered). */
  get replayable(): boolean {
    return !(this.#buffer?.overflowed ?? false);
  }

  /** Frames sent and not yet confirmed. */
  get unconfirmed(): number {
    return this.#buffer?.size ?? 0;
  }

  /**
   * Records a counted frame sent (or kept for a peer that is away).
   *
   * @param frame The frame.
   */
  sentFrame(frame: Uint8Array): void {
    (this.#buffer ??= new ReplayBuffer(this.#limits)).push(frame);
  }

  /**
   * Records a counted frame received.
   *
   * @returns Whether it is time to tell the peer (`ackFrame`).
   */
  receivedFrame(): boolean {
    return ++this.received - this.#told >= ACK_EVERY;
  }

  /** Whether frames were received since the peer was last told. */
  get owesAck(): boolean {
    return this.received > this.#told;
  }

  /** The `SessionAck` that tells the peer how many frames arrived; it counts as told. */
  ackFrame(): Uint8Array {
    this.#told = this.received;
    return encodeFrame(SessionAck, { received: this.received });
  }

  /**
   * The peer has received `count` of this side's frames.
   *
   * @param count Its count.
   */
  confirm(count: number): void {
    this.#buffer?.confirm(count);
  }

  /**
   * The frames to send again to a peer that has `count` of them.
   *
   * @param count The peer's count.
   * @returns The frames in order, or `undefined` when they are not all kept.
   */
  since(count: number): Uint8Array[] | undefined {
    if (this.#buffer === undefined) return count === 0 ? [] : undefined;
    return this.#buffer.since(count);
  }

  /** The peer starts over (a resumed connection tells it the count again). */
  resetTold(): void {
    this.#told = this.received;
  }
}
