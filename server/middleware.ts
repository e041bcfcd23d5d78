/**
 * Middleware: functions that decide a namespace connect before any socket exists.
 *
 * @module
 */

import type { SocketHandshake } from "./server_socket.ts";

/**
 * What a middleware sees of a connect: the namespace, what the client sent and where from, and
 * the socket's `data` to be, which it may fill in (the socket starts with it).
 */
export interface MiddlewareContext<Data = Record<string, unknown>> {
  /** The namespace being connected. */
  readonly namespace: string;
  /** The client's address, whether the connection is TLS, its auth payload, and the time. */
  readonly handshake: SocketHandshake;
  /** The socket's `data` to be: a middleware may set fields (a user id, say). */
  data: Data;
}

/**
 * Decides a connect before any socket exists: `true` (or nothing) passes it to the next
 * middleware and then the namespace; `false` or a reason (a string) refuses it. The client's
 * connect then fails with a `ConnectError` (`unauthorized`, the reason as its message), and
 * nothing else happens: no socket, no `connection` event. Refusing `/` closes the connection;
 * refusing another namespace leaves the connection and its other namespaces as they are. A
 * middleware that throws refuses too, with a generic reason (the error goes to the server's
 * `error` event). It may be async: the connect waits (for `/`, within the handshake timeout).
 */
export type Middleware<Data = Record<string, unknown>> = (
  context: MiddlewareContext<Data>,
) => boolean | string | void | Promise<boolean | string | void>;

/** The reason a refusal gives when its middleware gave none. */
export const REFUSED = "Refused by the server";

/**
 * Runs middleware in order until one refuses.
 *
 * @param chain The middleware.
 * @param context The connect.
 * @param reportError Where a middleware's thrown error goes.
 * @returns `undefined` when every one let the connect through, else the refusal's reason.
 */
export async function runMiddleware<Data>(
  chain: readonly Middleware<Data>[],
  context: MiddlewareContext<Data>,
  reportError: (error: unknown) => void,
): Promise<string | undefined> {
  for (const middleware of chain) {
    let verdict: boolean | string | void;
    try {
      verdict = await middleware(context);
    } catch (error) {
      reportError(error);
      return REFUSED;
    }
    if (verdict === false) return REFUSED;
    if (typeof verdict === "string") return verdict;
  }
  return undefined;
}
