/**
 * Opening the client's connection: TCP with no-delay set, then TLS over it when asked (so that
 * no-delay applies to TLS connections too, which `Deno.connectTls` would not allow). From a
 * chosen local address, the TCP connection opens with `node:net` instead of `Deno.connect`.
 *
 * @module
 */

import { connectNodeTcp } from "../transport/node_tcp_conn.ts";
import type { ResolvedClientOptions } from "./client_options.ts";

/**
 * Connects over TCP (from `localAddress` when given), sets no-delay, and runs the TLS handshake
 * when `tls` is given.
 *
 * @param hostname The server's host.
 * @param port The server's port.
 * @param options TLS options (`undefined` for plain TCP) and the local address (`undefined` for
 *   the system's choice); never both, which the options' resolution refuses.
 * @param signal Aborts the connect and the TLS handshake.
 * @returns The open connection.
 * @throws {Error} What `Deno.connect`, `node:net` or the TLS handshake throws, or the signal's
 *   reason.
 */
export async function openConnection(
  hostname: string,
  port: number,
  options: Pick<ResolvedClientOptions, "tls" | "localAddress">,
  signal: AbortSignal,
): Promise<Deno.Conn> {
  const { tls, localAddress } = options;
  if (localAddress !== undefined) {
    if (tls !== undefined) throw new TypeError("localAddress works over plain TCP only");
    const conn = await connectNodeTcp({ hostname, port, localAddress, signal });
    conn.setNoDelay(true);
    return conn;
  }
  const tcp = await Deno.connect({ hostname, port, transport: "tcp", signal });
  tcp.setNoDelay(true);
  if (tls === undefined) return tcp;
  let conn: Deno.Conn = tcp;
  try {
    const secure = await Deno.startTls(tcp, {
      hostname: tls.serverName ?? hostname,
      ...(tls.caCerts === undefined ? {} : { caCerts: tls.caCerts }),
    });
    conn = secure;
    await raceAbort(secure.handshake(), signal);
    return secure;
  } catch (error) {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
    throw error;
  }
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
