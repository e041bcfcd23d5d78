import assert from "node:assert/strict";
import { decodeFrame, encodeFrame, SchemaRegistry } from "../protocol/mod.ts";
import { PlayerState, sample } from "../bench/player_state.ts";

const SCRIPT = new URL("./fixtures/codec_round_trip.ts", import.meta.url).pathname;
const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");

Deno.test("the codec works, byte for byte the same, where code generation is forbidden", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--v8-flags=--disallow-code-generation-from-strings", SCRIPT],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const result = JSON.parse(new TextDecoder().decode(stdout));
  assert.equal(result.generated, false, "the child must really forbid code generation");
  const schemas = new SchemaRegistry([PlayerState]);
  [sample, { ...sample, name: "Вася 🚀" }].forEach((value, i) => {
    const bytes = encodeFrame(PlayerState, value, { channel: 1 });
    const frame = decodeFrame(bytes, { schemas });
    assert.equal(result.frames[i].hex, hex(bytes));
    assert.deepEqual(result.frames[i].value, frame.type === "message" ? frame.value : null);
  });
  assert.equal(
    result.refused,
    "RangeError: Cannot encode PlayerState.x: 40000 is out of range for int16 (-32768..32767)",
  );
});
