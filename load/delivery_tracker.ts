/**
 * Duplicate detection for the load tester: each sender numbers its updates 0, 1, 2, ...; each
 * receiver keeps, per sender in its room, the next number it expects. Over a reliable, ordered
 * stream every delivery is that number; one below it was seen already (a duplicate) unless it was
 * skipped (it arrived out of order).
 *
 * @module
 */

/** What a delivery was, for {@linkcode DeliveryTracker.record}. */
export type DeliveryVerdict =
  /** The next one expected from its sender. */
  | "in_order"
  /** A new one, but ahead of others of its sender not received yet. */
  | "ahead"
  /** A new one that arrived after a later one of its sender. */
  | "late"
  /** One received before. */
  | "duplicate";

/** The most pairs of room members tracked: 16 Mi, 64 MiB of counters. */
export const MAX_TRACKED_PAIRS = 2 ** 24;

/** The most numbers remembered as skipped, across every pair; past it, gaps are not remembered. */
const MAX_SKIPPED = 1_000_000;

/** Sequence numbers are below 2^22 (4,194,304 updates per sender), to fit in a key. */
const SEQUENCE_LIMIT = 2 ** 22;

/**
 * Counts duplicate and out-of-order deliveries, with `clients` clients where client `i` is in
 * room `i % rooms` and receives from the members of its room only.
 *
 * @example
 * ```ts
 * import { DeliveryTracker } from "./delivery_tracker.ts";
 * import assert from "node:assert/strict";
 *
 * const tracker = new DeliveryTracker(4, 2); // rooms {0, 2} and {1, 3}
 * assert.equal(tracker.record(0, 2, 0), "in_order");
 * assert.equal(tracker.record(0, 2, 0), "duplicate");
 * assert.equal(tracker.record(0, 2, 2), "ahead");
 * assert.equal(tracker.record(0, 2, 1), "late");
 * assert.deepEqual([tracker.duplicates, tracker.outOfOrder], [1, 1]);
 * ```
 */
export class DeliveryTracker {
  /** Deliveries received before. */
  duplicates = 0;
  /** Deliveries that arrived after a later update of the same sender. */
  outOfOrder = 0;
  #rooms: number;
  #perRoom: number;
  /** Per receiver, per sender's place in the room: the next sequence number expected. */
  #next: (Uint32Array | undefined)[];
  /** Sequence numbers skipped by an `ahead` delivery and not received since, by pair and number. */
  #skipped = new Set<number>();

  /**
   * Makes a tracker.
   *
   * @param clients How many clients.
   * @param rooms How many rooms.
   * @throws {RangeError} When clients × (members per room) exceeds {@linkcode MAX_TRACKED_PAIRS}.
   */
  constructor(clients: number, rooms: number) {
    this.#rooms = rooms;
    this.#perRoom = Math.ceil(clients / rooms);
    if (clients * this.#perRoom > MAX_TRACKED_PAIRS) {
      throw new RangeError(
        `Cannot track deliveries: ${clients} clients with ${this.#perRoom} per room make ${
          clients * this.#perRoom
        } pairs, more than ${MAX_TRACKED_PAIRS}`,
      );
    }
    this.#next = new Array(clients).fill(undefined);
  }

  /**
   * Records a delivery.
   *
   * @param receiver The receiving client's index.
   * @param sender The sending client's index (in the receiver's room).
   * @param sequence The update's number in its sender's sequence.
   * @returns What the delivery was.
   */
  record(receiver: number, sender: number, sequence: number): DeliveryVerdict {
    const place = Math.floor(sender / this.#rooms);
    const next = this.#next[receiver] ??= new Uint32Array(this.#perRoom);
    const expected = next[place]!;
    if (sequence === expected) {
      next[place] = expected + 1;
      return "in_order";
    }
    const pair = receiver * this.#perRoom + place;
    if (sequence > expected) {
      for (let skipped = expected; skipped < sequence; skipped++) {
        if (this.#skipped.size >= MAX_SKIPPED || skipped >= SEQUENCE_LIMIT) break;
        this.#skipped.add(pair * SEQUENCE_LIMIT + skipped);
      }
      next[place] = sequence + 1;
      return "ahead";
    }
    if (this.#skipped.delete(pair * SEQUENCE_LIMIT + sequence)) {
      this.outOfOrder++;
      return "late";
    }
    this.duplicates++;
    return "duplicate";
  }
}
