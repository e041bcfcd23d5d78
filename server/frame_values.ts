/**
 * The fields of the frames a server connection reads, as the decoder gives them: what each
 * built-in schema's value holds (docs/PROTOCOL.md lists the schemas).
 *
 * @module
 */

/** The fields of a `Connect` frame. */
export interface ConnectValue {
  namespace: string;
  channel: number;
  protocolVersion?: number;
  schemaFingerprint?: string;
  auth?: Uint8Array;
  sessionId?: string;
  recoveryToken?: Uint8Array;
  received?: number;
}

/** The optional fields of a `Handshake` frame. */
export interface HandshakeValue {
  sessionId: string;
  recoveryToken: Uint8Array;
  recovered: boolean;
  received: number;
  udpPort: number;
  udpKey: Uint8Array;
  udpSession: number;
}

/** The fields of an `Event` frame. */
export interface EventValue {
  event: number;
  payloadType: number;
  payload?: Uint8Array;
  ackId?: number;
}

/** The fields of a `RoomEvent` frame from a client. */
export interface RoomEventValue {
  room: string;
  event: number;
  payloadType: number;
  payload?: Uint8Array;
}

/** The fields of an `Ack` frame. */
export interface AckValue {
  /** The acknowledged event's ack id. */
  ackId: number;
  /** The reply's payload type. */
  payloadType: number;
  /** The reply's payload. */
  payload?: Uint8Array;
  /** The receiver's error, when its handler failed. */
  error?: string;
}

/** The fields of a `RoomJoin` frame. */
export interface RoomJoinValue {
  /** The room to join. */
  room: string;
  /** A room to leave in the same step. */
  leave?: string;
  /** The room's key. */
  key?: string;
  /** The player's name. */
  player?: string;
  /** The client's request id, echoed in a refusal. */
  requestId?: number;
}

/** The fields of a `RoomCreate` frame. */
export interface RoomCreateValue {
  /** The room to create. */
  room: string;
  /** Its key. */
  key?: string;
  /** Its capacity. */
  capacity?: number;
  /** Its metadata, JSON text as UTF-8 (decoded for the create hook). */
  metadata?: Uint8Array;
  /** The client's request id, echoed in the answer. */
  requestId?: number;
  /** Whether it is left out of listings. */
  hidden?: boolean;
  /** Whether the creator joins it. */
  join?: boolean;
  /** Milliseconds it is kept once empty. */
  emptyTimeout?: number;
  /** The creator's player name. */
  player?: string;
  /** A room the creator leaves in the same step as it joins. */
  leave?: string;
}

/** The fields of a `RoomListRequest` frame. */
export interface RoomListRequestValue {
  /** The client's request id, echoed in the answer. */
  requestId: number;
  /** The page after this name. */
  after?: string;
  /** The most rooms. */
  limit?: number;
  /** Only names starting with this. */
  prefix?: string;
  /** Only rooms with a free seat. */
  available?: boolean;
  /** Only rooms whose metadata has these entries (a JSON object as UTF-8). */
  metadata?: Uint8Array;
}
