/**
 * The game client side of game-socket.
 *
 * The TCP client (`GameSocketClient`) is not built yet; until it is, this entry point exports the
 * protocol pieces a client works with: schemas, frames, the frame decoder and the typed errors.
 *
 * @module
 */

export {
  BUILTIN_SCHEMAS,
  ChannelTable,
  decodeFrame,
  defineSchema,
  encodeFrame,
  ErrorCode,
  FrameDecoder,
  PROTOCOL_VERSION,
  ProtocolError,
  type ProtocolErrorCode,
  type Schema,
  SchemaRegistry,
} from "./protocol/mod.ts";
