/**
 * A small seeded pseudo-random generator, for what must repeat from run to run: the load tool's
 * chaos, and the tests' randomized runs.
 *
 * @module
 */

/**
 * mulberry32: a 32-bit seeded generator. The same seed always yields the same sequence.
 *
 * @param seed Any 32-bit integer.
 * @returns A function returning numbers in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
