/**
 * Tools for looking at what went over the wire: hex capture parsing (plain hex, `xxd`,
 * `tshark -x`, relay captures), TCP stream reassembly, packet formatting, a relay that decodes
 * live traffic (TCP, and UDP datagrams), and watching a room or listing a namespace's rooms as a
 * client. The `deno task decode` and `deno task dump` CLIs are built on them.
 *
 * @module
 */

export * from "./hex_input.ts";
export * from "./tcp_reassembly.ts";
export * from "./capture_decoder.ts";
export * from "./packet_format.ts";
export * from "./schema_module.ts";
export * from "./room_watch.ts";
export * from "./room_list.ts";
export * from "./connection_names.ts";
export * from "./relay_capture.ts";
export * from "./relay_events.ts";
export * from "./packet_relay.ts";
export * from "./relay_format.ts";
