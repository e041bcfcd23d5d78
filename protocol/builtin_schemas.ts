/**
 * The registry of built-in schemas, which control frames resolve against.
 *
 * @module
 */

import * as rooms from "./room_schemas.ts";
import { SchemaRegistry } from "./schema_registry.ts";
import * as sockets from "./socket_schemas.ts";

/**
 * Every built-in schema of the socket and room layers. Control frames name schemas in this
 * registry; message frames name schemas in the application's own registry, so the two code spaces
 * never collide.
 */
export const BUILTIN_SCHEMAS: SchemaRegistry = new SchemaRegistry([
  sockets.Connect,
  sockets.Handshake,
  sockets.Disconnect,
  sockets.Ping,
  sockets.Pong,
  sockets.ErrorMessage,
  sockets.EventName,
  sockets.Event,
  sockets.Ack,
  sockets.SessionAck,
  rooms.RoomJoin,
  rooms.RoomJoinError,
  rooms.RoomLeave,
  rooms.RoomCreate,
  rooms.RoomDelete,
  rooms.RoomJoined,
  rooms.RoomLeft,
  rooms.MemberEntered,
  rooms.MemberLeft,
  rooms.RoomEvent,
  rooms.MemberMoved,
  rooms.RoomCreated,
  rooms.RoomListRequest,
  rooms.RoomList,
  rooms.RoomWatch,
  rooms.RoomListing,
  rooms.RoomMemberEntry,
]);
