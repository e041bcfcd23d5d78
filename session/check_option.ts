/**
 * Checks of numeric options, shared by the server's and the client's.
 *
 * @module
 */

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
