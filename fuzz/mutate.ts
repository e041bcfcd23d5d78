/**
 * Mutations of byte strings for the decoder fuzzer: bit flips, byte changes toward edge values,
 * insertions, deletions, duplicated and spliced runs, and length prefixes made large.
 *
 * @module
 */

const EDGES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x10, 0x11, 0x12];

/**
 * Returns a mutated copy of `input`: one to four random mutations.
 *
 * @param input The bytes to start from.
 * @param other A second input, for splices.
 * @param random A source of numbers in [0, 1).
 * @returns The mutated bytes.
 */
export function mutate(
  input: Uint8Array,
  other: Uint8Array,
  random: () => number,
): Uint8Array {
  let bytes = Array.from(input);
  const pick = (n: number) => Math.floor(random() * n);
  const count = 1 + pick(4);
  for (let m = 0; m < count; m++) {
    const at = pick(bytes.length + 1);
    switch (pick(7)) {
      case 0: // flip a bit
        if (bytes.length > 0) bytes[at % bytes.length]! ^= 1 << pick(8);
        break;
      case 1: // an edge value
        if (bytes.length > 0) bytes[at % bytes.length] = EDGES[pick(EDGES.length)]!;
        break;
      case 2: // insert bytes
        bytes.splice(at, 0, ...Array.from({ length: 1 + pick(4) }, () => pick(256)));
        break;
      case 3: // delete a run
        bytes.splice(at, 1 + pick(8));
        break;
      case 4: // duplicate a run
        bytes.splice(at, 0, ...bytes.slice(at, at + 1 + pick(16)));
        break;
      case 5: // splice in part of another input
        bytes.splice(at, pick(8), ...Array.from(other.subarray(pick(other.length))));
        break;
      default: // a long varint: a length prefix or count made large
        bytes.splice(at, 0, 0xff, 0xff, 0xff, 0x7f);
        break;
    }
  }
  if (bytes.length > 4096) bytes = bytes.slice(0, 4096);
  return Uint8Array.from(bytes);
}
