/**
 * Built-in schemas of the socket layer: connect, handshake, disconnect, heartbeat, errors and
 * events. They travel in control frames; codes and fields are in docs/PROTOCOL.md.
 *
 * Each schema's fields are exported as an `as const` object next to it, so that the schema's
 * value type is inferred from them and still spelled out for JSR (the pattern documented on
 * {@linkcode defineSchema}).
 *
 * @module
 */

import { defineSchema, type FieldDefinitions, type Schema, type SchemaValue } from "./schema.ts";

/** How an event's payload is encoded, in the `payloadType` field of events and acks. */
export const PayloadType = {
  /** No payload. */
  None: 0,
  /** Opaque bytes. */
  Bytes: 1,
  /** A UTF-8 string. */
  String: 2,
  /** A JSON value as UTF-8 text. */
  Json: 3,
  /** An application message: schema code, schema version, then the message body. */
  Message: 4,
} as const;

/** One of the values of {@linkcode PayloadType}. */
export type PayloadType = typeof PayloadType[keyof typeof PayloadType];

/** Fields of {@linkcode Connect}. */
export const connectFields = {
  namespace: { id: 0, type: "string" },
  channel: { id: 1, type: "varuint" },
  protocolVersion: { id: 2, type: "varuint", optional: true },
  schemaFingerprint: { id: 3, type: "string", optional: true },
  auth: { id: 4, type: "bytes", optional: true },
  sessionId: { id: 5, type: "string", optional: true },
  recoveryToken: { id: 6, type: "bytes", optional: true },
  received: { id: 7, type: "varuint", optional: true },
} as const satisfies FieldDefinitions;

/**
 * Client → server, on channel 0: open `namespace` on `channel`. The first connect of a connection
 * (to "/", channel 0) carries the protocol version and schema fingerprint; `auth` is the
 * application's credentials; `sessionId` and `recoveryToken` ask to resume a session, of whose
 * frames the client has `received` so many.
 */
export const Connect: Schema<SchemaValue<typeof connectFields>> = defineSchema({
  name: "Connect",
  code: 0,
  version: 0,
  fields: connectFields,
});

/** Fields of {@linkcode Handshake}. */
export const handshakeFields = {
  namespace: { id: 0, type: "string" },
  channel: { id: 1, type: "varuint" },
  socketId: { id: 2, type: "string" },
  protocolVersion: { id: 3, type: "varuint" },
  schemaFingerprint: { id: 4, type: "string" },
  heartbeatInterval: { id: 5, type: "varuint" },
  heartbeatTimeout: { id: 6, type: "varuint" },
  maxFrameSize: { id: 7, type: "varuint" },
  sessionId: { id: 8, type: "string", optional: true },
  recoveryToken: { id: 9, type: "bytes", optional: true },
  recovered: { id: 10, type: "bool", optional: true },
  udpPort: { id: 11, type: "uint16", optional: true },
  udpKey: { id: 12, type: "bytes", optional: true },
  udpSession: { id: 13, type: "uint32", optional: true },
  received: { id: 14, type: "varuint", optional: true },
} as const satisfies FieldDefinitions;

/**
 * Server → client, on the new channel: the namespace is open. Intervals are in milliseconds;
 * `maxFrameSize` is the largest frame the server accepts. Session, recovery and UDP fields are
 * present when those features are on, on the handshake of `/` only: `sessionId` and
 * `recoveryToken` (the secret that resumes the session, fresh on every handshake of `/`),
 * `recovered` (whether this connection resumed one) and `received` (how many of the client's
 * counted frames the server has); `udpPort` (0 for "the port number of the TCP port you
 * reached"), `udpKey` (the session's datagram key) and `udpSession` (the session id datagrams
 * carry).
 */
export const Handshake: Schema<SchemaValue<typeof handshakeFields>> = defineSchema({
  name: "Handshake",
  code: 1,
  version: 0,
  fields: handshakeFields,
});

/** Fields of {@linkcode SessionAck}. */
export const sessionAckFields = {
  received: { id: 0, type: "varuint" },
} as const satisfies FieldDefinitions;

/**
 * Either way, on channel 0, with session recovery: the sender has received `received` of the
 * session's counted frames so far, so the peer may forget them.
 */
export const SessionAck: Schema<SchemaValue<typeof sessionAckFields>> = defineSchema({
  name: "SessionAck",
  code: 9,
  version: 0,
  fields: sessionAckFields,
});

/** Fields of {@linkcode Disconnect}. */
export const disconnectFields = {
  reason: { id: 0, type: "string", optional: true },
} as const satisfies FieldDefinitions;

/** Either way, on a namespace's channel: that namespace is left (the channel closes). */
export const Disconnect: Schema<SchemaValue<typeof disconnectFields>> = defineSchema({
  name: "Disconnect",
  code: 2,
  version: 0,
  fields: disconnectFields,
});

/** Fields of {@linkcode Ping} and {@linkcode Pong}. */
export const heartbeatFields = {
  timestamp: { id: 0, type: "uint32" },
} as const satisfies FieldDefinitions;

/** Either way, on channel 0: a heartbeat carrying the sender's clock in milliseconds mod 2^32. */
export const Ping: Schema<SchemaValue<typeof heartbeatFields>> = defineSchema({
  name: "Ping",
  code: 3,
  version: 0,
  fields: heartbeatFields,
});

/** The reply to a {@linkcode Ping}: echoes its timestamp. */
export const Pong: Schema<SchemaValue<typeof heartbeatFields>> = defineSchema({
  name: "Pong",
  code: 4,
  version: 0,
  fields: heartbeatFields,
});

/** Fields of {@linkcode ErrorMessage}. */
export const errorFields = {
  code: { id: 0, type: "varuint" },
  message: { id: 1, type: "string", optional: true },
  namespace: { id: 2, type: "string", optional: true },
  limit: { id: 3, type: "string", optional: true },
} as const satisfies FieldDefinitions;

/**
 * Server → client: a refusal, with a code from `ErrorCode`. A refused `Connect` is answered on
 * channel 0 with the refused `namespace`, so a client with several connects pending knows which.
 * With `LimitExceeded`, `limit` names the limit (a `LimitName`).
 */
export const ErrorMessage: Schema<SchemaValue<typeof errorFields>> = defineSchema({
  name: "Error",
  code: 5,
  version: 0,
  fields: errorFields,
});

/** Fields of {@linkcode EventName}. */
export const eventNameFields = {
  id: { id: 0, type: "varuint" },
  name: { id: 1, type: "string" },
} as const satisfies FieldDefinitions;

/**
 * Either way, on channel 0: from now on, in this direction of this connection, event id `id`
 * means `name`. Sent once, before the first event that uses the id.
 */
export const EventName: Schema<SchemaValue<typeof eventNameFields>> = defineSchema({
  name: "EventName",
  code: 6,
  version: 0,
  fields: eventNameFields,
});

/** Fields of {@linkcode Event}. */
export const eventFields = {
  event: { id: 0, type: "varuint" },
  payloadType: { id: 1, type: "uint8" },
  payload: { id: 2, type: "bytes", optional: true },
  ackId: { id: 3, type: "varuint", optional: true },
} as const satisfies FieldDefinitions;

/**
 * Either way, on a namespace's channel: event `event` (an id declared by {@linkcode EventName})
 * with a payload of `payloadType`. With `ackId`, the sender waits for an {@linkcode Ack}.
 */
export const Event: Schema<SchemaValue<typeof eventFields>> = defineSchema({
  name: "Event",
  code: 7,
  version: 0,
  fields: eventFields,
});

/** Fields of {@linkcode Ack}. */
export const ackFields = {
  ackId: { id: 0, type: "varuint" },
  payloadType: { id: 1, type: "uint8" },
  payload: { id: 2, type: "bytes", optional: true },
  error: { id: 3, type: "string", optional: true },
} as const satisfies FieldDefinitions;

/** The reply to an event that carried `ackId`, on the same channel. */
export const Ack: Schema<SchemaValue<typeof ackFields>> = defineSchema({
  name: "Ack",
  code: 8,
  version: 0,
  fields: ackFields,
});
