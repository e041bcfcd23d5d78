/**
 * `deno task decode`: turns hex captures into readable packets.
 *
 * @module
 */

import { parseArgs, styleText } from "node:util";
import {
  type CaptureFormat,
  decodeCapture,
  entryToJson,
  faultToJson,
  formatEntry,
  HexInputError,
} from "../inspect/mod.ts";
import type { SchemaRegistry } from "../protocol/mod.ts";
import { loadSchemas } from "./load_schemas.ts";

const HELP = `Usage: deno task decode [options] [hex ...]

Decodes game-socket frames from a hex capture and prints one line per packet:

  #3 10.0 /home {x: 120, y: -4, angle: 1.5708, alive: true}

  #3      packet number        10.0   schema code.version (built-in schemas by name)
  /home   namespace (its channel id while the capture has not named it)

Input, in this order of precedence: hex given as arguments, --file, or standard input.
Formats (detected, or set with --format):
  plain   hex digits with any spacing and line breaks (0x prefixes, ':' and ',' allowed)
  xxd     xxd output: the offset and ASCII columns are ignored
  tshark  'tshark -x' dumps: whole packets; Ethernet/SLL, IP and TCP headers are stripped
          and each connection and direction is reassembled in sequence order
  relay   what 'deno task dump --save' writes: a first line "# game-socket relay capture 1",
          then one line per chunk relayed: connection, C>S or S>C, seconds, hex bytes.
          Each connection and direction is a stream; its ends show as client N, server N

A capture may start or end mid-frame: the decoder says so and resumes at the next whole
frame when it can. Frames of schemas it does not know print as raw bytes.

Options:
  -f, --file <path>          read the capture from a file
      --format <name>        plain, xxd, tshark or relay (default: detected)
  -s, --schemas <module>     a module whose exported schemas (Schema values, arrays of them,
                             or a SchemaRegistry) decode application messages
      --json                 print one JSON object per line (packets, notes, errors)
      --max-frame-size <n>   the largest frame to accept (default: 65536)
  -h, --help                 show this help

Exit status: 0 when everything decoded; 1 on corrupt input (after printing what decoded,
with the byte offset and reason); 2 on bad usage or unreadable input.

Examples:
  deno task decode 08 10 00 03 00 00 00 03 e8
  deno task decode --file examples/seed_flow/capture.tshark.txt
  xxd capture.bin | deno task decode --json
  deno task decode --schemas ./game/schemas.ts --file dump.txt
`;

const FORMATS: readonly CaptureFormat[] = ["plain", "xxd", "tshark", "relay"];

/**
 * Runs the decode CLI.
 *
 * @param args The command-line arguments.
 * @returns The exit status.
 */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        file: { type: "string", short: "f" },
        format: { type: "string" },
        schemas: { type: "string", short: "s" },
        json: { type: "boolean", default: false },
        "max-frame-size": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    return usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const format = values.format as CaptureFormat | undefined;
  if (format !== undefined && !FORMATS.includes(format)) {
    return usage(`unknown format "${format}": use plain, xxd, tshark or relay`);
  }
  let maxFrameSize: number | undefined;
  if (values["max-frame-size"] !== undefined) {
    maxFrameSize = Number(values["max-frame-size"]);
    if (!Number.isInteger(maxFrameSize) || maxFrameSize < 1 || maxFrameSize > 16 * 1024 * 1024) {
      return usage(`--max-frame-size must be an integer in 1..16777216`);
    }
  }

  let text: string;
  try {
    text = positionals.length > 0
      ? positionals.join(" ")
      : values.file !== undefined
      ? await Deno.readTextFile(values.file)
      : await new Response(Deno.stdin.readable).text();
  } catch (error) {
    return fail(`cannot read the input: ${(error as Error).message}`);
  }

  let schemas: SchemaRegistry | undefined;
  if (values.schemas !== undefined) {
    try {
      schemas = await loadSchemas(values.schemas);
    } catch (error) {
      return fail(`cannot load schemas from ${values.schemas}: ${(error as Error).message}`);
    }
  }

  let result;
  try {
    result = decodeCapture(text, {
      ...(schemas === undefined ? {} : { schemas }),
      ...(maxFrameSize === undefined ? {} : { maxFrameSize }),
      ...(format === undefined ? {} : { format }),
    });
  } catch (error) {
    if (error instanceof HexInputError) {
      if (values.json) {
        console.log(
          JSON.stringify({
            type: "error",
            code: "hex_input",
            message: error.message,
            line: error.line,
            column: error.column,
          }),
        );
      }
      console.error(styleText("red", `error: ${error.message}`));
      return 1;
    }
    throw error;
  }

  const showStreams = result.format === "tshark" || result.format === "relay";
  for (const entry of result.entries) {
    console.log(
      values.json ? JSON.stringify(entryToJson(entry)) : formatEntry(entry, { showStreams }),
    );
  }
  for (const fault of result.faults) {
    if (values.json) console.log(JSON.stringify(faultToJson(fault)));
    const stream = showStreams && fault.src !== undefined ? ` ${fault.src} -> ${fault.dst}:` : "";
    console.error(styleText("red", `error:${stream} ${fault.error.message} [${fault.error.code}]`));
  }
  return result.faults.length > 0 ? 1 : 0;
}

function usage(message: string): number {
  console.error(styleText("red", `error: ${message}`));
  console.error("Run with --help for usage.");
  return 2;
}

function fail(message: string): number {
  console.error(styleText("red", `error: ${message}`));
  return 2;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
