/**
 * The emits a client makes while it reconnects: kept, bounded, and sent once the session is
 * back (each namespace's once its channel is open again).
 *
 * @module
 */

import { OfflineQueueFullError } from "../session/errors.ts";

/** An emit kept while reconnecting. */
export interface OfflineEmit {
  /** The encoded frame. */
  readonly frame: Uint8Array;
  /** The event name its id stands for, when it has one (declared again in a fresh session). */
  readonly event: string | undefined;
  /** The frame's channel. */
  readonly channel: number;
}

/** The offline queue of one client. */
export class OfflineQueue {
  readonly #maxFrames: number;
  readonly #maxBytes: number;
  #kept: OfflineEmit[] = [];
  #bytes = 0;

  /**
   * Creates an empty queue.
   *
   * @param limits The most emits and bytes kept.
   */
  constructor(limits: { readonly maxFrames: number; readonly maxBytes: number }) {
    this.#maxFrames = limits.maxFrames;
    this.#maxBytes = limits.maxBytes;
  }

  /** Emits kept. */
  get size(): number {
    return this.#kept.length;
  }

  /**
   * Keeps an emit.
   *
   * @param emit The frame, its event and channel.
   * @param namespace The emitting socket's namespace, for the error.
   * @throws {OfflineQueueFullError} When the queue is full.
   */
  keep(emit: OfflineEmit, namespace: string): void {
    if (this.#kept.length >= this.#maxFrames || this.#bytes + emit.frame.length > this.#maxBytes) {
      throw new OfflineQueueFullError(
        namespace,
        `${this.#maxFrames} emits, ${this.#maxBytes} bytes`,
      );
    }
    this.#kept.push(emit);
    this.#bytes += emit.frame.length;
  }

  /**
   * Takes the emits of a channel, or of every channel, in the order they were made.
   *
   * @param channel The channel; every channel when absent.
   * @returns The emits, no longer kept.
   */
  take(channel?: number): OfflineEmit[] {
    const taken: OfflineEmit[] = [];
    const kept: OfflineEmit[] = [];
    for (const emit of this.#kept) {
      (channel === undefined || emit.channel === channel ? taken : kept).push(emit);
    }
    this.#kept = kept;
    for (const emit of taken) this.#bytes -= emit.frame.length;
    return taken;
  }
}
