/**
 * Tools for looking at what went over the wire: hex capture parsing (plain hex, `xxd`,
 * `tshark -x`) and TCP stream reassembly. The `deno task decode` CLI is built on them.
 *
 * @module
 */

export * from "./hex_input.ts";
export * from "./tcp_reassembly.ts";
export * from "./capture_decoder.ts";
export * from "./packet_format.ts";
export * from "./schema_module.ts";
