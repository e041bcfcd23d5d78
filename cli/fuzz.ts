/**
 * `deno task fuzz`: fuzzes the frame decoders, the message decoders of every built-in schema and
 * the datagram decoders for a while, and keeps the inputs worth keeping in a corpus directory.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { fuzzDecoders } from "../fuzz/decoder_fuzz.ts";

const HELP = `Usage: deno task fuzz [options]

Feeds mutated frames, streams and datagrams to every decoder. A decoder must refuse bad bytes
with a ProtocolError and nothing else, and accept only the canonical encoding of a frame.

  --seconds <n>   how long to run (default: 60)
  --seed <n>      the seed of every mutation (default: from the clock; printed)
  --corpus <dir>  inputs to start from, and where new interesting ones and failures are saved
                  (default: tests/fuzz_corpus)
  -h, --help      show this help

Exit status: 0 when no input was mishandled, 1 when one was (saved as failure-*.bin), 2 for
bad arguments.`;

/** Runs the command; resolves with the exit status. */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        seconds: { type: "string" },
        seed: { type: "string" },
        corpus: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const seconds = Number(values.seconds ?? 60);
  const seed = Number(values.seed ?? (Date.now() >>> 0));
  if (!(seconds > 0) || !Number.isFinite(seconds)) {
    console.error(`--seconds must be a positive number, got ${values.seconds}`);
    return 2;
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    console.error(`--seed must be an integer in 0..4294967295, got ${values.seed}`);
    return 2;
  }
  const dir = values.corpus ?? "tests/fuzz_corpus";
  const corpus: Uint8Array[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.endsWith(".bin")) corpus.push(await Deno.readFile(`${dir}/${entry.name}`));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await Deno.mkdir(dir, { recursive: true });
  }
  console.log(`fuzzing for ${seconds} s, seed ${seed}, ${corpus.length} inputs in ${dir}`);
  const report = fuzzDecoders({ seed, seconds, corpus });
  const save = async (prefix: string, input: Uint8Array) => {
    // Named by content, so the same input is kept once.
    const name = createHash("sha256").update(input).digest("hex").slice(0, 12);
    await Deno.writeFile(`${dir}/${prefix}${name}.bin`, input);
  };
  for (const input of report.interesting) await save("", input);
  for (const failure of report.failures) await save("failure-", failure.input);
  console.log(`${report.runs} inputs, ${report.failures.length} mishandled`);
  for (const [code, count] of [...report.codes].sort((a, b) => b[1] - a[1])) {
    console.log(`  ${code.padEnd(20)} ${count}`);
  }
  for (const failure of report.failures.slice(0, 10)) console.log(`failure: ${failure.problem}`);
  return report.failures.length === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
