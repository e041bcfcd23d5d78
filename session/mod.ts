/**
 * What the server and the client share above the protocol: payloads, typed event maps, errors
 * and disconnect reasons.
 *
 * @module
 */

export { DEFAULT_ACK_TIMEOUT } from "./ack_tracker.ts";
export {
  Backoff,
  type BackoffOptions,
  resolveBackoffOptions,
  type ResolvedBackoffOptions,
} from "./backoff.ts";
export {
  type Delivery,
  type DeliveryStatus,
  type SendOptions,
  type UdpFallback,
  type UdpStats,
} from "./delivery.ts";
export { DISCONNECT_REASONS, type DisconnectReason } from "./disconnect_reason.ts";
export {
  AckError,
  AckTimeoutError,
  ConnectError,
  type ConnectErrorCode,
  DatagramTooLargeError,
  JoinError,
  type JoinErrorCode,
  OfflineQueueFullError,
  SocketClosedError,
} from "./errors.ts";
export {
  type DefaultEvents,
  type EmitArgs,
  type EventData,
  type EventHandler,
  type EventInfo,
  type EventNames,
  type EventReply,
  type EventsMap,
  MAX_EVENT_NAME_LENGTH,
  RESERVED_EVENTS,
} from "./event_map.ts";
export { MAX_EVENT_NAMES } from "./event_names.ts";
export { type JsonValue, message, type Payload, SchemaMessage } from "./payload.ts";
export {
  MAX_PAGE_SIZE,
  type RoomFilter,
  type RoomInfo,
  type RoomMember,
  type RoomMetadata,
  type RoomPage,
} from "./room_listing.ts";
export {
  type AckOptions,
  type EmitOptions,
  type EmitStatus,
  type MessageInfo,
  SocketBase,
  type SocketLink,
  type SocketPlace,
} from "./socket_base.ts";
export { type TimerEntry, TimerQueue } from "./timer_queue.ts";
export type { DatagramDrop, DatagramDrops } from "../transport/datagram_path.ts";
export {
  DEFAULT_REPLAY_WINDOW,
  MAX_SEQUENCE,
  type ReplayVerdict,
  ReplayWindow,
} from "../transport/replay_window.ts";
