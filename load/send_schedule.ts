/**
 * The fixed schedule of a load test: event `j` is due `j × interval` milliseconds after the
 * start. One timer chain fires everything that is due at each tick, so a thousand clients cost
 * one timer, not a thousand, and a tick that comes late catches up at once.
 *
 * @module
 */

/** How a schedule ran. */
export interface ScheduleResult {
  /** How many events fired (all of them, unless the run was aborted). */
  readonly fired: number;
  /** How far the schedule fell behind at worst: the largest delay of an event, in milliseconds. */
  readonly lagMax: number;
  /** `performance.now()` when the schedule started. */
  readonly start: number;
  /** `performance.now()` when it ended. */
  readonly end: number;
}

/**
 * How many events a schedule of `senders` senders at `rate` events per second each, for
 * `duration` seconds, has: event `j` is due at `j / (senders × rate)` seconds, and every one due
 * before `duration` counts, so the count is `senders × rate × duration` rounded up.
 *
 * @param senders How many senders take turns.
 * @param rate Events per second of each sender.
 * @param duration Seconds.
 * @returns How many events.
 *
 * @example
 * ```ts
 * import { scheduledCount } from "./send_schedule.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(scheduledCount(20, 20, 1), 400);
 * assert.equal(scheduledCount(3, 0.5, 1), 2); // at 0 s and 2/3 s
 * ```
 */
export function scheduledCount(senders: number, rate: number, duration: number): number {
  // toPrecision drops the float error of the product (3 × 0.1 × 10 is 3.0000000000000004).
  return Math.ceil(Number((senders * rate * duration).toPrecision(12)));
}

/**
 * Fires `fire(j)` for `j` from 0 to `total - 1`, each `j × interval` milliseconds after the start
 * or as soon after as the timer ticks; everything due fires in order at each tick. Resolves when
 * all fired, or as soon as `signal` aborts (with what fired by then). If `fire` throws, the
 * schedule stops and the promise rejects with that error.
 *
 * @param total How many events.
 * @param interval Milliseconds between events.
 * @param fire Called with each event's index.
 * @param signal Stops the schedule early.
 * @returns How the schedule ran.
 * @throws {RangeError} When `total` is not a non-negative integer or `interval` not positive.
 *
 * @example
 * ```ts
 * import { runSchedule } from "./send_schedule.ts";
 * import assert from "node:assert/strict";
 *
 * const fired: number[] = [];
 * const result = await runSchedule(5, 2, (j) => fired.push(j));
 * assert.deepEqual(fired, [0, 1, 2, 3, 4]);
 * assert.equal(result.fired, 5);
 * ```
 */
export function runSchedule(
  total: number,
  interval: number,
  fire: (j: number) => void,
  signal?: AbortSignal,
): Promise<ScheduleResult> {
  if (!Number.isInteger(total) || total < 0) {
    return Promise.reject(new RangeError(`A schedule has a whole number of events, got ${total}`));
  }
  if (!(interval > 0)) {
    return Promise.reject(new RangeError(`A schedule's interval is above 0 ms, got ${interval}`));
  }
  return new Promise<ScheduleResult>((resolve, reject) => {
    const start = performance.now();
    let next = 0;
    let lagMax = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let done = false;
    const stop = () => {
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", finish);
    };
    function finish(): void {
      if (done) return;
      stop();
      resolve({ fired: next, lagMax, start, end: performance.now() });
    }
    const tick = () => {
      timer = undefined;
      try {
        const elapsed = performance.now() - start;
        const due = Math.min(total, Math.floor(elapsed / interval) + 1);
        if (due > next) lagMax = Math.max(lagMax, elapsed - next * interval);
        while (next < due && !done) fire(next++);
        if (next >= total || done) return finish();
        timer = setTimeout(tick, Math.max(0, next * interval - (performance.now() - start)));
      } catch (error) {
        stop();
        reject(error);
      }
    };
    if (signal?.aborted || total === 0) return finish();
    signal?.addEventListener("abort", finish, { once: true });
    tick();
  });
}
