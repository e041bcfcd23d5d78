/**
 * Checks of numeric options, shared by the server's and the client's.
 *
 * @module
 */

import { DEFAULT_MAX_DATAGRAM_SIZE } from "../protocol/mod.ts";
import { DEFAULT_REPLAY_WINDOW } from "../transport/replay_window.ts";

/**
 * Checks an integer option.
 *
 * @param name The option's name, for the message.
 * @param value Its value.
 * @param min The least allowed.
 * @param max The most allowed.
 * @returns The value.
 * @throws {RangeError} When it is not an integer in range.
 */
export function checkInteger(name: string, value: number, min: number, max = 2 ** 31 - 1): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${value}`);
  }
  return value;
}

/**
 * Checks a `maxDatagramSize` option: 64..65507 bytes (the most an IPv4 UDP datagram carries).
 *
 * @param value The option, or `undefined` for the default.
 * @returns The size.
 * @throws {RangeError} When out of range.
 */
export function checkMaxDatagramSize(value: number | undefined): number {
  return checkInteger("udp.maxDatagramSize", value ?? DEFAULT_MAX_DATAGRAM_SIZE, 64, 65507);
}

/**
 * Checks a `replayWindow` option: a multiple of 32 in 32..65536.
 *
 * @param value The option, or `undefined` for the default.
 * @returns The size.
 * @throws {RangeError} When out of range or not a multiple of 32.
 */
export function checkReplayWindow(value: number | undefined): number {
  const size = checkInteger("udp.replayWindow", value ?? DEFAULT_REPLAY_WINDOW, 32, 65536);
  if (size % 32 !== 0) throw new RangeError(`udp.replayWindow must be a multiple of 32`);
  return size;
}
