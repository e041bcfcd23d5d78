/**
 * Encode and decode of one "player state" message: game-socket against JSON and msgpackr, in one
 * run. Fair terms: every encoder produces a whole message in a fresh buffer (game-socket's frame
 * includes its header and length prefix), every decoder reads bytes into a fresh object.
 * `deno task bench` runs it; figures go in docs/PERFORMANCE.md.
 */

import { Packr, Unpackr } from "npm:msgpackr@2.1.4";
import { decodeFrame, encodeFrame, FrameDecoder, SchemaRegistry } from "../protocol/mod.ts";
import { PlayerState, sample } from "./player_state.ts";

const schemas = new SchemaRegistry([PlayerState]);
const options = { channel: 1 };
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

// msgpackr with records (structures shared by both ends, its fastest mode) and without.
const structures: object[] = [];
const packrRecords = new Packr({ useRecords: true, structures });
const unpackrRecords = new Unpackr({ useRecords: true, structures });
const packrPlain = new Packr({ useRecords: false });
const unpackrPlain = new Unpackr({ useRecords: false });

const frame = encodeFrame(PlayerState, sample, options);
const json = textEncoder.encode(JSON.stringify(sample));
// Both encodeFrame and msgpackr's pack() return a view into a shared buffer that later messages
// never overwrite (a new one is allocated when it fills): equally fresh results.
const packedRecords = packrRecords.pack(sample).slice();
const packedPlain = packrPlain.pack(sample).slice();

console.log("bytes per message:");
console.log(`  game-socket frame (header + length prefix included): ${frame.length}`);
console.log(`  msgpackr, records on (structures shared out of band): ${packedRecords.length}`);
console.log(`  msgpackr, records off: ${packedPlain.length}`);
console.log(`  JSON (UTF-8): ${json.length}`);

let sink = 0;

Deno.bench("game-socket encodeFrame", { group: "encode", baseline: true }, () => {
  sink += encodeFrame(PlayerState, sample, options).length;
});
Deno.bench("msgpackr pack, records on", { group: "encode" }, () => {
  sink += packrRecords.pack(sample).length;
});
Deno.bench("msgpackr pack, records off", { group: "encode" }, () => {
  sink += packrPlain.pack(sample).length;
});
Deno.bench("JSON.stringify + TextEncoder", { group: "encode" }, () => {
  sink += textEncoder.encode(JSON.stringify(sample)).length;
});

Deno.bench("game-socket decodeFrame", { group: "decode", baseline: true }, () => {
  const decoded = decodeFrame(frame, { schemas });
  sink += decoded.size;
});
Deno.bench("msgpackr unpack, records on", { group: "decode" }, () => {
  sink += unpackrRecords.unpack(packedRecords).x;
});
Deno.bench("msgpackr unpack, records off", { group: "decode" }, () => {
  sink += unpackrPlain.unpack(packedPlain).x;
});
Deno.bench("TextDecoder + JSON.parse", { group: "decode" }, () => {
  sink += JSON.parse(textDecoder.decode(json)).x;
});

globalThis.addEventListener("unload", () => {
  if (sink === 0) console.log("unreachable");
});

// The stream decoder over a 64 KiB read of back-to-back player states (4369 frames).
const streamChunk = new Uint8Array(Math.floor(65536 / frame.length) * frame.length);
for (let at = 0; at < streamChunk.length; at += frame.length) streamChunk.set(frame, at);
const framesPerChunk = streamChunk.length / frame.length;
Deno.bench(`FrameDecoder.push, ${framesPerChunk} frames in one 64 KiB chunk`, {
  group: "stream",
}, () => {
  const decoder = new FrameDecoder({ schemas });
  for (const decoded of decoder.push(streamChunk)) sink += decoded.size;
});
