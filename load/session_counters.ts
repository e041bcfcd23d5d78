/**
 * Counts what the clients of a load test went through when their connections dropped:
 * reconnection attempts, returns, sessions resumed and expired, and give-ups.
 *
 * @module
 */

import type { GameSocketClient } from "../client.ts";

/**
 * The reconnection events of many clients, summed.
 *
 * @example
 * ```ts ignore
 * const counters = new SessionCounters();
 * const client = new GameSocketClient();
 * counters.watch(client);
 * // ... after a cut ...
 * console.log(counters.recovered, counters.expired);
 * ```
 */
export class SessionCounters {
  /** Reconnection attempts started (`reconnect_attempt`). */
  attempts = 0;
  /** Clients back after a drop (`reconnect`), resumed or fresh. */
  reconnects = 0;
  /** Sessions resumed (`reconnect` with `recovered`). */
  recovered = 0;
  /** Sessions that could not be resumed (`session_expired`). */
  expired = 0;
  /** Clients that gave up reconnecting (`reconnect_failed`). */
  failed = 0;

  /**
   * Counts a client's reconnection events from now on.
   *
   * @param client The client.
   */
  // deno-lint-ignore no-explicit-any
  watch(client: GameSocketClient<any, any>): void {
    client
      .on("reconnect_attempt", () => this.attempts++)
      .on("reconnect", ({ recovered }) => {
        this.reconnects++;
        if (recovered) this.recovered++;
      })
      .on("session_expired", () => this.expired++)
      .on("reconnect_failed", () => this.failed++);
  }
}
