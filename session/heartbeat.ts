/**
 * Round-trip times from heartbeats.
 *
 * @module
 */

/** The weight of a new sample in the smoothed round trip (the original's factor). */
export const RTT_SMOOTHING = 0.35;

/** A heartbeat timestamp: milliseconds modulo 2^32. */
export function heartbeatClock(): number {
  return Math.floor(performance.now()) >>> 0;
}

/** The clock of UDP hellos: microseconds modulo 2^32 (sub-millisecond round trips show). */
export function helloClock(): number {
  return Math.floor(performance.now() * 1000) >>> 0;
}

/**
 * The round trip a hello's echo measures.
 *
 * @param echo The `helloClock()` value the peer echoed.
 * @returns Milliseconds.
 */
export function helloRoundTrip(echo: number): number {
  return ((helloClock() - echo) >>> 0) / 1000;
}

/** The last and smoothed round-trip times of a connection, in milliseconds. */
export class RoundTrip {
  /** The last measured round trip, or `undefined` before the first. */
  last: number | undefined;
  /** An exponential moving average of the round trips, or `undefined` before the first. */
  smoothed: number | undefined;

  /**
   * Records a pong.
   *
   * @param timestamp The timestamp the pong echoed.
   * @returns The round trip it measured.
   */
  record(timestamp: number): number {
    return this.sample((heartbeatClock() - timestamp) >>> 0);
  }

  /**
   * Records a round trip measured some other way (the UDP path's hellos).
   *
   * @param rtt The round trip, in milliseconds.
   * @returns The same round trip.
   */
  sample(rtt: number): number {
    this.last = rtt;
    this.smoothed = this.smoothed === undefined
      ? rtt
      : this.smoothed + RTT_SMOOTHING * (rtt - this.smoothed);
    return rtt;
  }
}
