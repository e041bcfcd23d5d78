/**
 * `deno task dump`'s client mode: watching a room, listing a namespace's rooms, and the
 * `host:port` arguments and error lines both modes share.
 *
 * @module
 */

import { styleText } from "node:util";
import {
  formatRoomList,
  formatWatchEntry,
  listAllRooms,
  type ListAllRoomsOptions,
  type WatchEntry,
  watchEntryToJson,
  watchRoom,
  type WatchRoomOptions,
} from "../inspect/mod.ts";
import { ConnectError, JoinError } from "../client.ts";

/** A host and port. */
export interface HostPort {
  hostname: string;
  port: number;
}

/** Client mode: watches a room until Ctrl-C, SIGTERM or the end of the connection. */
export async function watch(
  server: HostPort,
  options: Omit<WatchRoomOptions, "hostname" | "port">,
  json: boolean,
): Promise<number> {
  const print = (entry: WatchEntry) =>
    console.log(json ? JSON.stringify(watchEntryToJson(entry)) : formatWatchEntry(entry));
  const where = `${formatHostPort(server)} ${options.namespace ?? "/"}${
    options.room === undefined ? "" : ` ${options.room}`
  }`;
  console.log(json ? JSON.stringify({ type: "watching", target: where }) : `watching ${where}`);
  let watching;
  try {
    watching = await watchRoom({ ...server, ...options }, print);
  } catch (error) {
    return fail(failure(error, server, options.namespace), 1);
  }

  let stop = () => {};
  const stopped = new Promise<"stopped">((resolve) => stop = () => resolve("stopped"));
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    const ended = await Promise.race([stopped, watching.closed]);
    return ended === "stopped" ? 0 : 1;
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
    await watching.close();
  }
}

/** Client mode with --list: prints the namespace's rooms, every page, then exits. */
export async function list(
  server: HostPort,
  options: Omit<ListAllRoomsOptions, "hostname" | "port">,
  json: boolean,
): Promise<number> {
  let rooms;
  try {
    rooms = await listAllRooms({ ...server, ...options });
  } catch (error) {
    return fail(failure(error, server, options.namespace), 1);
  }
  if (json) {
    for (const room of rooms) console.log(JSON.stringify(room));
    return 0;
  }
  for (const line of formatRoomList(rooms)) console.log(line);
  console.log(
    `${rooms.length} room${rooms.length === 1 ? "" : "s"} in ${options.namespace ?? "/"}`,
  );
  return 0;
}

/** What went wrong in client mode, as one sentence for the error line. */
function failure(error: unknown, server: HostPort, namespace = "/"): string {
  if (error instanceof ConnectError) {
    const where = error.namespace === "/" ? formatHostPort(server) : error.namespace;
    return `cannot connect ${where}: ${error.message} (${error.code})`;
  }
  if (error instanceof JoinError) {
    return `cannot join ${error.room}: ${error.message} (${error.code})`;
  }
  return `${namespace}: ${error instanceof Error ? error.message : String(error)}`;
}

/** Reads `host:port` (`[v6]:port` for IPv6); returns what is wrong as a string. */
export function parseHostPort(text: string, minPort: number): HostPort | string {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d+)$/.exec(text);
  if (match === null) return `expected host:port (or [v6 address]:port), got "${text}"`;
  const port = Number(match[3]);
  if (port < minPort || port > 65535) {
    return `the port must be in ${minPort}..65535, got ${match[3]}`;
  }
  return { hostname: match[1] ?? match[2]!, port };
}

/** Writes `host:port` (`[v6]:port` for IPv6). */
export function formatHostPort({ hostname, port }: HostPort): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/** Prints an error line; returns the exit status. */
export function fail(message: string, status: number): number {
  console.error(styleText("red", `error: ${message}`));
  return status;
}
