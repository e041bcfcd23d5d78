/**
 * The client's reconnection loop: after a dropped connection, attempts spaced by an exponential
 * backoff with jitter, until one connects or the attempts run out.
 *
 * @module
 */

import type { Backoff } from "../session/backoff.ts";
import type { TimerEntry, TimerQueue } from "../session/timer_queue.ts";

/** What the loop tells and asks its connection. */
export interface ReconnectorHooks {
  /** Opens a new connection to the server. */
  dial(signal: AbortSignal): Promise<Deno.Conn>;
  /** An attempt starts (the client's `reconnect_attempt`). */
  attempt(attempt: number): void;
  /** An attempt connected: the connection asks to resume its session on it. */
  connected(conn: Deno.Conn): void;
  /** An attempt failed (the client's `reconnect_error`). */
  failed(error: unknown): void;
  /** Every attempt allowed failed (the client's `reconnect_failed`). */
  gaveUp(): void;
}

/** Attempts to reconnect, one at a time, spaced by a backoff. */
export class Reconnector {
  #backoff: Backoff;
  #timers: TimerQueue;
  #hooks: ReconnectorHooks;
  #timer: TimerEntry | undefined;
  #dialing: AbortController | undefined;
  #stopped = false;

  /**
   * Sets up the loop; nothing happens before {@linkcode Reconnector.next}.
   *
   * @param backoff The delays.
   * @param timers The client's timer queue.
   * @param hooks What the loop tells and asks.
   */
  constructor(backoff: Backoff, timers: TimerQueue, hooks: ReconnectorHooks) {
    this.#backoff = backoff;
    this.#timers = timers;
    this.#hooks = hooks;
  }

  /** Attempts made since the last success. */
  get attempts(): number {
    return this.#backoff.attempts;
  }

  /**
   * Schedules the next attempt, or gives up when none is left.
   *
   * @param error Why the previous attempt failed, when one did.
   */
  next(error?: unknown): void {
    if (this.#stopped) return;
    if (error !== undefined) this.#hooks.failed(error);
    const delay = this.#backoff.next();
    if (delay === undefined) {
      this.#stopped = true;
      this.#hooks.gaveUp();
      return;
    }
    const attempt = this.#backoff.attempts;
    this.#timer = this.#timers.schedule(delay, () => {
      this.#timer = undefined;
      void this.#attempt(attempt);
    });
  }

  /** An attempt succeeded (the session is back): the next drop starts the backoff over. */
  succeeded(): void {
    this.#backoff.reset();
  }

  /** Stops: no more attempts; a dial under way is aborted. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#timers.cancel(this.#timer);
    this.#timer = undefined;
    this.#dialing?.abort();
  }

  async #attempt(attempt: number): Promise<void> {
    if (this.#stopped) return;
    this.#hooks.attempt(attempt);
    const dialing = this.#dialing = new AbortController();
    let conn: Deno.Conn;
    try {
      conn = await this.#hooks.dial(dialing.signal);
    } catch (error) {
      this.#dialing = undefined;
      if (!this.#stopped) this.next(error);
      return;
    }
    this.#dialing = undefined;
    if (this.#stopped) {
      conn.close();
      return;
    }
    this.#hooks.connected(conn);
  }
}
