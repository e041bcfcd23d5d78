/**
 * Acknowledgements awaited by one socket: each has a deadline on the shared timer queue, and
 * settles exactly once (reply, error, timeout or disconnect). Late, duplicate and unknown ack
 * ids are ignored and counted.
 *
 * @module
 */

import { AckError, AckTimeoutError } from "./errors.ts";
import type { TimerEntry, TimerQueue } from "./timer_queue.ts";

/** The default time to wait for an acknowledgement, in milliseconds. */
export const DEFAULT_ACK_TIMEOUT = 10_000;

/** How an awaited acknowledgement ended. */
export type AckOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: Error };

interface Pending {
  event: string;
  settle: (outcome: AckOutcome) => void;
  timer: TimerEntry;
}

/** Hands out ack ids: unique among the acknowledgements pending on any one socket. */
export class AckIds {
  #next = 0;

  /** The next id, wrapping at 2^32. */
  next(): number {
    const id = this.#next;
    this.#next = (this.#next + 1) >>> 0;
    return id;
  }
}

/** The acknowledgements one socket waits for. */
export class AckTracker {
  #pending: Map<number, Pending> | undefined;
  #timers: TimerQueue;
  /** Acks that matched nothing pending (late, duplicate or unknown), ignored. */
  ignored = 0;

  /**
   * Creates an empty tracker.
   *
   * @param timers The queue that runs the timeouts.
   */
  constructor(timers: TimerQueue) {
    this.#timers = timers;
  }

  /** How many acknowledgements are awaited. */
  get size(): number {
    return this.#pending?.size ?? 0;
  }

  /**
   * Awaits an acknowledgement.
   *
   * @param ackId The id the event carried.
   * @param event The event's name, for errors.
   * @param timeout Milliseconds to wait; then the outcome is an {@linkcode AckTimeoutError}.
   * @param settle Called once with the outcome.
   */
  add(ackId: number, event: string, timeout: number, settle: (outcome: AckOutcome) => void): void {
    const pending = this.#pending ??= new Map();
    const timer = this.#timers.schedule(timeout, () => {
      if (pending.get(ackId)?.timer !== timer) return;
      pending.delete(ackId);
      settle({ ok: false, error: new AckTimeoutError(event, timeout) });
    });
    pending.set(ackId, { event, settle, timer });
  }

  /**
   * Settles an awaited acknowledgement with the receiver's error.
   *
   * @param ackId The id the ack carried.
   * @param message The receiver's error, which becomes an {@linkcode AckError}.
   * @returns `false` when nothing with that id was awaited.
   */
  fail(ackId: number, message: string): boolean {
    const event = this.#pending?.get(ackId)?.event ?? "";
    return this.settle(ackId, { ok: false, error: new AckError(event, message) });
  }

  /**
   * Settles an awaited acknowledgement.
   *
   * @param ackId The id the ack carried.
   * @param outcome The reply or the error.
   * @returns `false` when nothing with that id was awaited (then it is counted and ignored).
   */
  settle(ackId: number, outcome: AckOutcome): boolean {
    const pending = this.#pending?.get(ackId);
    if (pending === undefined) {
      this.ignored++;
      return false;
    }
    this.#pending!.delete(ackId);
    this.#timers.cancel(pending.timer);
    pending.settle(outcome);
    return true;
  }

  /**
   * Fails everything awaited, when the socket disconnects.
   *
   * @param error The error each awaiting caller gets.
   */
  failAll(error: Error): void {
    const pending = [...this.#pending?.values() ?? []];
    this.#pending = undefined;
    for (const { settle, timer } of pending) {
      this.#timers.cancel(timer);
      settle({ ok: false, error });
    }
  }
}
