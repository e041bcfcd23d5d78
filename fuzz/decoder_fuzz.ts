/**
 * The decoder fuzzer: mutated frames, streams and datagrams fed to every decoder. The decoders
 * must refuse bad bytes with a `ProtocolError` and nothing else, and whatever control or raw
 * frame they accept must be the one canonical encoding of its value (it encodes back to the same
 * bytes), so two different byte strings never mean the same frame.
 *
 * @module
 */

import { PlayerState } from "../bench/player_state.ts";
import { mulberry32 } from "../load/seeded_random.ts";
import {
  datagramBody,
  decodeDatagramFrames,
  decodeFrame,
  encodeFrame,
  encodeRawFrame,
  type Frame,
  FrameDecoder,
  ProtocolError,
  readDatagramHeader,
  SchemaRegistry,
} from "../protocol/mod.ts";
import { mutate } from "./mutate.ts";
import { seedInputs } from "./seeds.ts";

const SCHEMAS = new SchemaRegistry([PlayerState]);
const READ = { schemas: SCHEMAS, maxFrameSize: 1 << 20 };

/** An input a decoder mishandled. */
export interface FuzzFailure {
  /** The input. */
  readonly input: Uint8Array;
  /** What went wrong. */
  readonly problem: string;
}

/** Options of {@linkcode fuzzDecoders}. */
export interface FuzzOptions {
  /** The seed of every mutation and split. */
  readonly seed: number;
  /** The most inputs to try. */
  readonly iterations?: number;
  /** The most seconds to run. */
  readonly seconds?: number;
  /** Inputs to start from besides the built-in seeds (a saved corpus). */
  readonly corpus?: readonly Uint8Array[];
}

/** What a fuzzing run did. */
export interface FuzzReport {
  /** Inputs tried. */
  readonly runs: number;
  /** Inputs a decoder mishandled. */
  readonly failures: FuzzFailure[];
  /** How often each `ProtocolError` code was raised. */
  readonly codes: ReadonlyMap<string, number>;
  /** Inputs that raised a code for the first time in the run: worth keeping in the corpus. */
  readonly interesting: Uint8Array[];
}

/**
 * Feeds one input to every decoder.
 *
 * @param input The bytes.
 * @param random Where the stream is split into chunks.
 * @param codes Counts of the `ProtocolError` codes raised, added to.
 * @returns What went wrong, or `undefined` when every decoder behaved.
 */
export function checkInput(
  input: Uint8Array,
  random: () => number,
  codes: Map<string, number> = new Map(),
): string | undefined {
  const refused = (where: string, error: unknown): string | undefined => {
    if (!(error instanceof ProtocolError)) return `${where} threw ${String(error)}`;
    codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
    return undefined;
  };
  // A stream, split at random places.
  const decoder = new FrameDecoder(READ);
  try {
    for (let at = 0; at < input.length;) {
      const end = Math.min(input.length, at + 1 + Math.floor(random() * 64));
      for (const frame of decoder.push(input.subarray(at, end))) {
        const problem = canonical(frame, input.subarray(frame.offset, frame.offset + frame.size));
        if (problem !== undefined) return `stream: ${problem}`;
      }
      at = end;
    }
  } catch (error) {
    const problem = refused("FrameDecoder", error);
    if (problem !== undefined) return problem;
  }
  // One whole frame.
  try {
    const problem = canonical(decodeFrame(input, READ), input);
    if (problem !== undefined) return `decodeFrame: ${problem}`;
  } catch (error) {
    const problem = refused("decodeFrame", error);
    if (problem !== undefined) return problem;
  }
  // A datagram, and frames laid end to end as in a datagram's body.
  try {
    readDatagramHeader(input);
    decodeDatagramFrames(datagramBody(input), READ);
  } catch (error) {
    const problem = refused("datagram", error);
    if (problem !== undefined) return problem;
  }
  try {
    for (const frame of decodeDatagramFrames(input, READ)) {
      const problem = canonical(frame, input.subarray(frame.offset, frame.offset + frame.size));
      if (problem !== undefined) return `datagram body: ${problem}`;
    }
  } catch (error) {
    return refused("decodeDatagramFrames", error);
  }
  return undefined;
}

/** Whether an accepted control or raw frame encodes back to the bytes it was read from. */
function canonical(frame: Frame, bytes: Uint8Array): string | undefined {
  let encoded: Uint8Array;
  try {
    if (frame.type === "raw") encoded = encodeRawFrame(frame.data, { channel: frame.channel });
    else if (frame.type === "control") {
      encoded = encodeFrame(frame.schema, frame.value, {
        channel: frame.channel,
        maxFrameSize: READ.maxFrameSize,
      });
    } else return undefined; // Application schemas may quantize (an angle, a health).
  } catch (error) {
    return `an accepted ${frame.type} frame does not encode: ${String(error)}`;
  }
  if (encoded.length !== bytes.length || encoded.some((byte, i) => byte !== bytes[i])) {
    return `an accepted ${frame.type} frame is not in its canonical encoding`;
  }
  return undefined;
}

/**
 * Runs the fuzzer: mutations of the seeds (and corpus), bounded in inputs and time.
 *
 * @param options Seed, bounds, corpus.
 * @returns What it did and found.
 */
export function fuzzDecoders(options: FuzzOptions): FuzzReport {
  const random = mulberry32(options.seed);
  const pool = [...seedInputs(), ...options.corpus ?? []];
  const codes = new Map<string, number>();
  const failures: FuzzFailure[] = [];
  const interesting: Uint8Array[] = [];
  const iterations = options.iterations ?? Infinity;
  const deadline = performance.now() + (options.seconds ?? Infinity) * 1000;
  let runs = 0;
  for (; runs < iterations; runs++) {
    if ((runs & 255) === 0 && performance.now() >= deadline) break;
    const pick = () => pool[Math.floor(random() * pool.length)]!;
    const input = mutate(pick(), pick(), random);
    const known = codes.size;
    const problem = checkInput(input, random, codes);
    if (problem !== undefined) failures.push({ input, problem });
    else if (codes.size > known) {
      interesting.push(input);
      pool.push(input);
    }
  }
  return { runs, failures, codes, interesting };
}
