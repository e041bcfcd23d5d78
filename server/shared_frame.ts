/**
 * A broadcast's frame, encoded once for all its recipients.
 *
 * @module
 */

import { rechannelFrame } from "../protocol/mod.ts";
import type { Delivery, UdpFallback } from "../session/delivery.ts";
import type { BroadcastPacket } from "./adapter.ts";

/**
 * Encodes lazily, on the first recipient's channel, and copies the frame onto other channels for
 * recipients whose connection gave the namespace another id: one encode per broadcast.
 */
export class SharedFrame implements BroadcastPacket {
  readonly event?: string;
  readonly volatile: boolean;
  readonly delivery: Delivery;
  readonly fallback: UdpFallback;
  readonly ackId?: number;
  #encode: (channel: number) => Uint8Array;
  #onEncode: () => void;
  #channel = -1;
  #frame: Uint8Array | undefined;
  #others: Map<number, Uint8Array> | undefined;

  /**
   * Prepares a broadcast frame.
   *
   * @param encode Encodes the frame on a channel; called at most once.
   * @param options The event name the frame's id stands for, volatility, delivery class and
   *   fallback, the ack id, and a counter of encodes.
   */
  constructor(
    encode: (channel: number) => Uint8Array,
    options: {
      event?: string;
      volatile: boolean;
      delivery?: Delivery;
      fallback?: UdpFallback;
      ackId?: number;
      onEncode: () => void;
    },
  ) {
    this.#encode = encode;
    this.#onEncode = options.onEncode;
    if (options.event !== undefined) this.event = options.event;
    if (options.ackId !== undefined) this.ackId = options.ackId;
    this.volatile = options.volatile;
    this.delivery = options.delivery ?? "reliable";
    this.fallback = options.fallback ?? "tcp";
  }

  frameFor(channel: number): Uint8Array {
    if (this.#frame === undefined) {
      this.#frame = this.#encode(channel);
      this.#channel = channel;
      this.#onEncode();
    }
    if (channel === this.#channel) return this.#frame;
    this.#others ??= new Map();
    let frame = this.#others.get(channel);
    if (frame === undefined) {
      this.#others.set(channel, frame = rechannelFrame(this.#frame, channel));
    }
    return frame;
  }
}
