/**
 * When queued frames leave: at the end of the tick that queued them (the default), or on a
 * send tick shared by every connection, as game servers batch their output per tick.
 *
 * @module
 */

/** Something with queued frames to write. */
export interface Flushable {
  /** Writes everything queued, in one write. */
  flush(): void;
}

/** Arranges for a transport's queued frames to be written. */
export interface FlushScheduler {
  /**
   * Arranges one flush of `transport`; called once per batch of frames.
   *
   * @param transport The transport with frames queued.
   */
  schedule(transport: Flushable): void;
}

/**
 * Flushes at the end of the current tick: every transport that queued frames in the tick, in
 * one microtask. Frames queued in one tick leave in one write, with no added latency.
 */
export const END_OF_TICK: FlushScheduler = (() => {
  let pending: Flushable[] = [];
  const flushAll = () => {
    const transports = pending;
    pending = [];
    for (const transport of transports) transport.flush();
  };
  return {
    schedule(transport: Flushable): void {
      pending.push(transport);
      if (pending.length === 1) queueMicrotask(flushAll);
    },
  };
})();

/**
 * Flushes on a fixed tick shared by every connection: frames wait up to `interval` ms and then
 * leave together, one write per connection per tick. Fewer, larger writes cost less CPU per
 * message at high rates, at up to `interval` ms of added latency. One timer serves all
 * connections, armed only while something waits.
 */
export class FlushTicker implements FlushScheduler {
  #interval: number;
  #pending: Flushable[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #next = 0;

  /**
   * Creates a ticker.
   *
   * @param interval Milliseconds between flushes.
   * @throws {RangeError} When the interval is not a positive number.
   */
  constructor(interval: number) {
    if (!(interval > 0) || !Number.isFinite(interval)) {
      throw new RangeError(
        `A send tick must be a positive number of milliseconds, got ${interval}`,
      );
    }
    this.#interval = interval;
  }

  schedule(transport: Flushable): void {
    this.#pending.push(transport);
    if (this.#timer !== undefined) return;
    // Ticks keep their phase, so a steady stream leaves every `interval` ms, not later.
    const now = performance.now();
    if (this.#next <= now) this.#next = now + this.#interval;
    this.#timer = setTimeout(this.#tick, this.#next - now);
  }

  /** Flushes what waits now and stops the timer (when the server closes). */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#tick();
  }

  #tick = (): void => {
    this.#timer = undefined;
    this.#next += this.#interval;
    const transports = this.#pending;
    this.#pending = [];
    for (const transport of transports) transport.flush();
  };
}
