/**
 * Why a socket was disconnected.
 *
 * @module
 */

import { LimitExceededError, ProtocolError } from "../protocol/mod.ts";
import type { TransportCloseCause } from "../transport/transport.ts";

/**
 * Why a socket (or a whole connection) was disconnected, on either side:
 * - `client disconnect`: the client left the namespace (or closed);
 * - `server disconnect`: the server disconnected the socket;
 * - `transport close`: the connection ended (the peer closed it, or half-closed it);
 * - `transport error`: reading or writing failed (for example a reset);
 * - `heartbeat timeout`: nothing was heard within the heartbeat timeout;
 * - `idle timeout`: no event was received within the idle timeout;
 * - `handshake timeout`: the connection sent no connect within the handshake timeout;
 * - `protocol error`: the peer sent bytes or frames the protocol refuses;
 * - `limit exceeded`: the peer went over one of the receiver's limits (a frame too large, a
 *   rate, pending acks, an event name too long; docs/SECURITY.md lists them), and was told which
 *   by a `LimitExceededError`;
 * - `send queue overflow`: more was queued for the peer than the send-queue cap allows;
 * - `high latency`: the smoothed round trip went over the configured maximum;
 * - `server shutting down`: the server is closing.
 */
export type DisconnectReason =
  | "client disconnect"
  | "server disconnect"
  | "transport close"
  | "transport error"
  | "heartbeat timeout"
  | "idle timeout"
  | "handshake timeout"
  | "protocol error"
  | "limit exceeded"
  | "send queue overflow"
  | "high latency"
  | "server shutting down";

/** Every {@linkcode DisconnectReason}, for validating a reason that arrived over the wire. */
export const DISCONNECT_REASONS: ReadonlySet<string> = new Set<DisconnectReason>([
  "client disconnect",
  "server disconnect",
  "transport close",
  "transport error",
  "heartbeat timeout",
  "idle timeout",
  "handshake timeout",
  "protocol error",
  "limit exceeded",
  "send queue overflow",
  "high latency",
  "server shutting down",
]);

/**
 * The disconnect reason of a transport's close.
 *
 * @param cause Why the transport closed.
 * @param local The reason when this side closed it (`server disconnect` or `client disconnect`).
 * @returns The reason.
 */
export function disconnectReasonOf(
  cause: TransportCloseCause,
  local: DisconnectReason,
): DisconnectReason {
  switch (cause.type) {
    case "eof":
      return "transport close";
    case "error":
      return "transport error";
    case "protocol":
      return isLimitFault(cause.error) ? "limit exceeded" : "protocol error";
    case "overflow":
      return "send queue overflow";
    case "local":
      return local;
  }
}

/**
 * Whether a fault is a limit the peer went over: a {@linkcode LimitExceededError}, or a frame
 * larger than `maxFrameSize` (which the frame decoder reports as `frame_too_large`).
 *
 * @param error The fault.
 * @returns Whether it is.
 */
export function isLimitFault(error: Error): boolean {
  return error instanceof LimitExceededError ||
    (error instanceof ProtocolError && error.code === "frame_too_large");
}
