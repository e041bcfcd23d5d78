import assert from "node:assert/strict";
import { encodeFrame, Ping } from "../protocol/mod.ts";
import { PlayerState, sample } from "../bench/player_state.ts";
import { SEED_FLOW, toHex } from "../examples/seed_flow/transcript.ts";
import { decodeCapture, entryToJson } from "../inspect/mod.ts";

const CLI = new URL("../cli/decode.ts", import.meta.url).pathname;
const CAPTURE = new URL("../examples/seed_flow/capture.tshark.txt", import.meta.url).pathname;
const SCHEMAS = new URL("./fixtures/player_schemas.ts", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno task decode`'s script with `args`, feeding `stdin`. */
async function decode(args: string[], stdin = ""): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", CLI, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  return {
    code,
    stdout: new TextDecoder().decode(stdout),
    stderr: new TextDecoder().decode(stderr),
  };
}

const lines = (text: string) => text.split("\n").filter((line) => line !== "");

const twoFrames = toHex(encodeFrame(Ping, { timestamp: 1000 })) + "\n" +
  toHex(encodeFrame(PlayerState, sample, { channel: 1 }));

Deno.test("decode CLI prints both packets of two frames piped in as hex", async () => {
  const run = await decode([], twoFrames);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(lines(run.stdout), [
    "#1 Ping / {timestamp: 1000}",
    "#2 10.0 channel 1 unknown schema, 10 bytes: 40 04 12 00 78 ff fc 40 00 bf",
  ]);
});

Deno.test("decode CLI decodes application messages with --schemas", async () => {
  const run = await decode(["--schemas", SCHEMAS], twoFrames);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(
    lines(run.stdout)[1],
    "#2 10.0 channel 1 {id: 1042, x: 120, y: -4, angle: 1.5708, health: 0.749, alive: true, firing: false}",
  );
});

Deno.test("decode CLI takes hex from arguments", async () => {
  const run = await decode(["08", "10 00 03", "00000003e8"]);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(lines(run.stdout), ["#1 Ping / {timestamp: 1000}"]);
});

Deno.test("decode CLI --json prints one parseable JSON object per line", async () => {
  const run = await decode(["--json", "--schemas", SCHEMAS], twoFrames);
  assert.equal(run.code, 0, run.stderr);
  const objects = lines(run.stdout).map((line) => JSON.parse(line));
  assert.equal(objects.length, 2);
  assert.equal(objects[0].schema, "Ping");
  assert.deepEqual(objects[1].value, {
    id: 1042,
    x: 120,
    y: -4,
    angle: Math.PI / 2,
    health: 191 / 255,
    alive: true,
    firing: false,
  });
});

Deno.test("decode CLI exits non-zero on corrupt input, naming the offset, after what decoded", async () => {
  // A good Ping, then a frame whose header claims protocol version 7.
  const run = await decode([], "08 10 00 03 00 00 00 03 e8 03 70 00 00");
  assert.equal(run.code, 1);
  assert.deepEqual(lines(run.stdout), ["#1 Ping / {timestamp: 1000}"]);
  assert.match(run.stderr, /at byte 10/);
  assert.match(run.stderr, /unsupported_version/);
});

Deno.test("decode CLI --json reports corrupt input as a JSON error line", async () => {
  const run = await decode(["--json"], "08 10 00 03 00 00 00 03 e8 00");
  assert.equal(run.code, 1);
  const objects = lines(run.stdout).map((line) => JSON.parse(line));
  assert.deepEqual(objects.at(-1), {
    type: "error",
    code: "empty_frame",
    offset: 9,
    message: "Cannot decode frame: length is zero (at byte 9)",
  });
});

Deno.test("decode CLI exits non-zero on text that is not hex, naming line and column", async () => {
  const run = await decode([], "08 10\n00 0g");
  assert.equal(run.code, 1);
  assert.match(run.stderr, /line 2, column 5/);
});

Deno.test("decode CLI says when a capture starts mid-frame and resumes at the next frame", async () => {
  const bytes = twoFrames.split(/\s+/).slice(3).join(" ") + " " + twoFrames;
  const run = await decode([], bytes);
  assert.equal(run.code, 0, run.stderr);
  const out = lines(run.stdout);
  assert.match(out[0]!, /^note: capture starts mid-frame: skipped 6 bytes/);
  assert.equal(out.filter((line) => line.startsWith("#")).length, 3);
});

Deno.test("decode CLI says when a capture ends mid-frame", async () => {
  const run = await decode([], "08 10 00 03 00 00 00 03 e8 08 10 00");
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(lines(run.stdout), [
    "#1 Ping / {timestamp: 1000}",
    "note: capture ends mid-frame: 3 bytes of an unfinished frame (at byte 9)",
  ]);
});

Deno.test("decode CLI reads xxd output", async () => {
  const xxd = "00000000: 0810 0003 0000 0003 e8                   .........\n";
  const run = await decode([], xxd);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(lines(run.stdout), ["#1 Ping / {timestamp: 1000}"]);
});

Deno.test("decode CLI decodes a tshark -x dump of a real loopback capture", async () => {
  const run = await decode(["--file", CAPTURE]);
  assert.equal(run.code, 0, run.stderr);
  const out = lines(run.stdout);
  assert.equal(out.length, SEED_FLOW.length);
  assert.match(out[3]!, /^#4 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ Handshake \/home \{/);
  assert.match(
    out[9]!,
    /RoomEvent \/home \{room: "lobby", event: 0 "hello", payloadType: 2 \(string\), payload: "hello all"/,
  );
});

Deno.test("a tshark dump decodes to the same packets as the raw bytes of each direction", async () => {
  const fromDump = decodeCapture(await Deno.readTextFile(CAPTURE));
  assert.equal(fromDump.format, "tshark");
  assert.deepEqual(fromDump.faults, []);
  const packets = fromDump.entries.map(entryToJson);
  for (const direction of ["C>S", "S>C"]) {
    const sent = SEED_FLOW.filter((frame) => frame.direction === direction);
    const raw = decodeCapture(sent.map((frame) => toHex(frame.bytes)).join("\n")).entries
      .map(entryToJson);
    const src = direction === "C>S" ? packets[0]!.src : packets[0]!.dst;
    const dumped = packets.filter((packet) => packet.src === src);
    const strip = (
      { number: _n, src: _s, dst: _d, namespace: _ns, ...rest }: Record<string, unknown>,
    ) => rest;
    assert.deepEqual(dumped.map(strip), raw.map(strip));
  }
  // Frame by frame, in capture order, the dump holds exactly the transcript.
  assert.deepEqual(
    fromDump.entries.map((entry) => entry.type === "packet" ? entry.frame.size : -1),
    SEED_FLOW.map((frame) => frame.bytes.length),
  );
});

Deno.test("decode CLI --help explains input, formats and options", async () => {
  const run = await decode(["--help"]);
  assert.equal(run.code, 0);
  for (const word of ["--file", "--schemas", "--json", "xxd", "tshark", "mid-frame"]) {
    assert.ok(run.stdout.includes(word), word);
  }
});

Deno.test("decode CLI refuses an unknown option with exit status 2", async () => {
  const run = await decode(["--bogus"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /--help/);
});
