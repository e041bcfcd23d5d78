/** The decoder fuzzer, run briefly with fixed seeds, and the saved corpus replayed. */

import assert from "node:assert/strict";
import { checkInput, fuzzDecoders } from "../fuzz/decoder_fuzz.ts";
import { seedInputs } from "../fuzz/seeds.ts";
import { mulberry32 } from "../load/seeded_random.ts";

Deno.test("Every seed input decodes, canonically, in every decoder that takes it", () => {
  const random = mulberry32(3);
  for (const input of seedInputs()) assert.equal(checkInput(input, random), undefined);
});

Deno.test("Fuzzing the decoders with fixed seeds finds no input they mishandle", () => {
  for (const seed of [1, 2, 0xf022]) {
    const report = fuzzDecoders({ seed, iterations: 4000, seconds: 20 });
    assert.deepEqual(
      report.failures.map((failure) => failure.problem),
      [],
      `seed ${seed}`,
    );
    assert.ok(report.codes.size >= 8, `only ${[...report.codes.keys()]} were reached`);
  }
});

Deno.test("The saved corpus replays without a mishandled input", async () => {
  const random = mulberry32(4);
  let count = 0;
  for await (const entry of Deno.readDir(new URL("./fuzz_corpus/", import.meta.url))) {
    if (!entry.name.endsWith(".bin")) continue;
    const input = await Deno.readFile(new URL(`./fuzz_corpus/${entry.name}`, import.meta.url));
    assert.equal(checkInput(input, random), undefined, entry.name);
    count++;
  }
  assert.ok(count > 0, "the corpus is empty");
});

Deno.test("deno task fuzz runs for its seconds, keeps new inputs, and refuses bad arguments", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fuzz_corpus_" });
  try {
    const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
    const [, ...args] = String(config.tasks.fuzz).split(" ");
    const run = (more: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: [...args, ...more],
        cwd: new URL("../", import.meta.url),
        stdout: "piped",
        stderr: "piped",
      }).output();
    const ok = await run(["--seconds", "0.5", "--seed", "5", "--corpus", dir]);
    const out = new TextDecoder().decode(ok.stdout);
    assert.equal(ok.code, 0, new TextDecoder().decode(ok.stderr));
    assert.match(out, /^fuzzing for 0\.5 s, seed 5, 0 inputs in /m);
    assert.match(out, /^\d+ inputs, 0 mishandled$/m);
    let kept = 0;
    for await (const entry of Deno.readDir(dir)) if (entry.name.endsWith(".bin")) kept++;
    assert.ok(kept > 0, "interesting inputs are kept");
    for (const bad of [["--seconds", "0"], ["--seed", "-1"], ["--nope"]]) {
      assert.equal((await run(bad)).code, 2, bad.join(" "));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
