/**
 * Why a load test's client could not take part: its connect, its join or its UDP path failed
 * ({@linkcode failureReason}), and the wait for a UDP path ({@linkcode udpOpened}).
 *
 * @module
 */

import {
  ConnectError,
  type GameSocketClient,
  JoinError,
  SocketClosedError,
  type UdpState,
} from "../client.ts";

/** A client whose UDP path did not open: why, as the end of its `udp: <reason>` error. */
export class UdpPathError extends Error {
  /** Why it did not open. */
  readonly reason: "timeout" | "failed" | "not offered" | "closed";

  /**
   * Makes the error.
   *
   * @param reason Why the path did not open.
   */
  constructor(reason: UdpPathError["reason"]) {
    super(`The UDP path did not open: ${reason}`);
    this.name = "UdpPathError";
    this.reason = reason;
  }
}

/**
 * Waits until a connected client's UDP path opens or cannot: `open`, `failed` (the server never
 * answered its hellos), `timeout` (not open within `timeout` ms), `not offered` (the server has
 * no UDP channel), or `closed` (the client closed meanwhile).
 *
 * @param client The client, connected.
 * @param timeout Milliseconds to wait at most.
 * @returns How the wait ended.
 */
export function udpOpened(
  // deno-lint-ignore no-explicit-any
  client: GameSocketClient<any, any>,
  timeout: number,
): Promise<"open" | UdpPathError["reason"]> {
  const state = client.udp?.state;
  if (state === undefined) return Promise.resolve("not offered");
  if (state === "open" || state === "failed") return Promise.resolve(state);
  return new Promise((resolve) => {
    const done = (result: "open" | UdpPathError["reason"]) => {
      clearTimeout(timer);
      client.off("udp_state", onState).off("close", onClose);
      resolve(result);
    };
    const onState = (state: UdpState) => {
      if (state === "open" || state === "failed") done(state);
    };
    const onClose = () => done("closed");
    const timer = setTimeout(() => done("timeout"), timeout);
    client.on("udp_state", onState).on("close", onClose);
  });
}

/**
 * The key in a load report's `errors` of a client that could not connect or join: a
 * `ConnectError` code, `join: <code>`, `udp: <reason>` or `error: <name>`.
 *
 * @param error Why it failed.
 * @returns The key.
 */
export function failureReason(error: unknown): string {
  if (error instanceof ConnectError) return error.code;
  if (error instanceof JoinError) return `join: ${error.code}`;
  if (error instanceof SocketClosedError) return "join: closed";
  if (error instanceof UdpPathError) return `udp: ${error.reason}`;
  return `error: ${error instanceof Error ? error.name : "unknown"}`;
}
