/**
 * A client's room requests, on the server: join (with a room to leave in the same step), create,
 * list and watch. Each is checked against the room and the namespace's policy, then put to the
 * namespace's hook, then checked again (others may have joined meanwhile), and only then done:
 * a refused request changes nothing.
 *
 * @module
 */

import {
  encodeEntryList,
  encodeFrame,
  ErrorCode,
  type LimitName,
  RoomCreated,
  RoomJoinError,
  RoomList,
  RoomListing,
} from "../protocol/mod.ts";
import {
  decodeMetadata,
  MAX_PAGE_SIZE,
  type RoomFilter,
  type RoomMetadata,
} from "../session/room_listing.ts";
import { nameProblem, roomOptionsProblem } from "./room_policy.ts";
import type { AnyServerSocket } from "./server_core.ts";
import type { RoomCreateValue, RoomJoinValue, RoomListRequestValue } from "./frame_values.ts";

/** Why a request is refused. */
interface Refusal {
  readonly code: ErrorCode;
  readonly message: string;
  readonly limit?: LimitName;
}

/**
 * Handles a client's request to join a room.
 *
 * @param socket The socket that asked.
 * @param request The request.
 */
export async function requestJoin(socket: AnyServerSocket, request: RoomJoinValue): Promise<void> {
  const refuse = (refusal: Refusal) =>
    sendRefusal(socket, request.room, refusal, request.requestId);
  const first = joinProblem(socket, request);
  if (first !== undefined) return refuse(first);
  const hook = socket.nsp.joinHook;
  const verdict = hook === undefined
    ? true
    : await consult(socket, () => hook(socket, request.room, request));
  if (!present(socket)) return;
  // Checked again: the room may have filled, or gone, while the hook decided.
  const second = hookRefusal(verdict) ?? joinProblem(socket, request);
  if (second !== undefined) return refuse(second);
  const identity = typeof verdict === "object" ? verdict : {};
  const player = identity.player ?? request.player;
  const playerId = identity.playerId;
  if (playerId !== undefined) {
    const room = socket.nsp.getRoom(request.room);
    if (
      !Number.isInteger(playerId) || playerId < 1 || playerId > 0xffff_ffff ||
      room?.playerIdFree(playerId) === false
    ) {
      socket.nsp.reportError(
        new RangeError(
          `The join hook gave player id ${playerId}, which is not a free id of ${request.room}`,
        ),
        socket,
      );
      return refuse({ code: ErrorCode.JoinRefused, message: "Refused by the server" });
    }
  }
  socket.nsp.roomMoves.join(socket, request.room, {
    ...(request.leave === undefined ? {} : { leave: request.leave }),
    ...(player === undefined ? {} : { player }),
    ...(playerId === undefined ? {} : { playerId }),
    ...(request.requestId === undefined ? {} : { requestId: request.requestId }),
    asked: true,
  });
}

/**
 * Handles a client's request to create a room (and join it).
 *
 * @param socket The socket that asked.
 * @param request The request.
 */
export async function requestCreate(
  socket: AnyServerSocket,
  request: RoomCreateValue,
): Promise<void> {
  const refuse = (refusal: Refusal) =>
    sendRefusal(socket, request.room, refusal, request.requestId);
  const policy = socket.nsp.roomPolicy;
  let metadata: RoomMetadata | undefined;
  if (request.metadata !== undefined) {
    if (request.metadata.length > policy.maxMetadataSize) {
      return refuse(invalid(
        `A room's metadata may take ${policy.maxMetadataSize} bytes of JSON, got ${request.metadata.length}`,
      ));
    }
    metadata = decodeMetadata(request.metadata);
    if (metadata === undefined) return refuse(invalid("A room's metadata must be a JSON object"));
  }
  const first = createProblem(socket, request, metadata);
  if (first !== undefined) return refuse(first);
  const hook = socket.nsp.createHook;
  if (hook !== undefined) {
    const { metadata: _bytes, ...rest } = request;
    const verdict = await consult(
      socket,
      () => hook(socket, request.room, metadata === undefined ? rest : { ...rest, metadata }),
    );
    if (!present(socket)) return;
    const second = hookRefusal(verdict) ?? createProblem(socket, request, metadata);
    if (second !== undefined) return refuse(second);
  }
  socket.nsp.roomMoves.create(request.room, {
    ...(request.capacity === undefined ? {} : { capacity: request.capacity }),
    ...(request.key === undefined ? {} : { key: request.key }),
    ...(metadata === undefined ? {} : { metadata }),
    ...(request.hidden === undefined ? {} : { hidden: request.hidden }),
    ...(request.emptyTimeout === undefined ? {} : { emptyTimeout: request.emptyTimeout }),
  }, socket.id);
  if (!request.join) {
    socket.deliverControl(encodeFrame(RoomCreated, {
      room: request.room,
      ...(request.requestId === undefined ? {} : { requestId: request.requestId }),
    }, { channel: socket.channel }));
    return;
  }
  socket.nsp.roomMoves.join(socket, request.room, {
    ...(request.leave === undefined ? {} : { leave: request.leave }),
    ...(request.player === undefined ? {} : { player: request.player }),
    ...(request.requestId === undefined ? {} : { requestId: request.requestId }),
    asked: true,
  });
}

/**
 * Answers a client's request for a page of rooms.
 *
 * @param socket The socket that asked.
 * @param request The request.
 */
export function requestList(socket: AnyServerSocket, request: RoomListRequestValue): void {
  const filter: RoomFilter = {
    limit: Math.min(Math.max(request.limit ?? 50, 1), MAX_PAGE_SIZE),
    ...(request.after === undefined ? {} : { after: request.after }),
    ...(request.prefix === undefined ? {} : { prefix: request.prefix }),
    ...(request.available === undefined ? {} : { available: request.available }),
  };
  let page;
  if (request.metadata === undefined) {
    page = socket.nsp.listRooms(filter);
  } else {
    // A filter that is not a JSON object matches nothing.
    const metadata = decodeMetadata(request.metadata) as RoomFilter["metadata"];
    page = metadata === undefined ? { rooms: [] } : socket.nsp.listRooms({ ...filter, metadata });
  }
  const rooms = page.rooms.map((info) => {
    const room = socket.nsp.getRoom(info.name)!;
    return {
      room: info.name,
      members: info.members,
      ...(info.capacity === undefined ? {} : { capacity: info.capacity }),
      metadata: room.metadataBytes,
      ...(info.locked ? { locked: true } : {}),
    };
  });
  socket.deliverControl(encodeFrame(RoomList, {
    requestId: request.requestId,
    rooms: encodeEntryList(RoomListing, rooms),
    ...(page.next === undefined ? {} : { next: page.next }),
  }, { channel: socket.channel }));
}

/**
 * Puts a request to a namespace hook.
 *
 * @returns What the hook said, or `false` when it threw (the error goes to the namespace).
 */
async function consult<V>(socket: AnyServerSocket, ask: () => V | Promise<V>): Promise<V | false> {
  try {
    return await ask();
  } catch (error) {
    socket.nsp.reportError(error, socket);
    return false;
  }
}

/** A hook's `false` or message as a refusal; anything else lets the request through. */
function hookRefusal(verdict: unknown): Refusal | undefined {
  if (verdict === false) return { code: ErrorCode.JoinRefused, message: "Refused by the server" };
  if (typeof verdict === "string") return { code: ErrorCode.JoinRefused, message: verdict };
  return undefined;
}

/** Whether the socket is still in its namespace (a hook may outlive it). */
function present(socket: AnyServerSocket): boolean {
  return socket.nsp.sockets.get(socket.id) === socket;
}

function invalid(message: string): Refusal {
  return { code: ErrorCode.InvalidRoomOptions, message };
}

function joinProblem(socket: AnyServerSocket, request: RoomJoinValue): Refusal | undefined {
  const { room: name, player } = request;
  const nsp = socket.nsp;
  const policy = nsp.roomPolicy;
  if (name === socket.id || nsp.adapter.socketRooms(socket.id).has(name)) {
    return { code: ErrorCode.AlreadyMember, message: `The socket is in ${name} already` };
  }
  if (nsp.sockets.has(name)) {
    return { code: ErrorCode.JoinRefused, message: "A socket's own room cannot be joined" };
  }
  if (player !== undefined) {
    const problem = nameProblem("player", player, policy.maxPlayerLength);
    if (problem !== undefined) return invalid(problem);
  }
  const room = nsp.getRoom(name);
  if (room === undefined) {
    if (policy.creation === "explicit") {
      return { code: ErrorCode.RoomNotFound, message: `There is no room ${name}` };
    }
    const problem = nameProblem("room", name, policy.maxNameLength);
    if (problem !== undefined) return invalid(problem);
    const total = roomCountProblem(socket);
    if (total !== undefined) return total;
  } else {
    if (!room.opens(request.key)) {
      return { code: ErrorCode.WrongKey, message: `That is not the key of ${name}` };
    }
    if (room.full) return { code: ErrorCode.RoomFull, message: `${name} is full` };
  }
  return roomsPerSocketProblem(socket, request.leave);
}

function createProblem(
  socket: AnyServerSocket,
  request: RoomCreateValue,
  metadata: RoomMetadata | undefined,
): Refusal | undefined {
  const { room: name } = request;
  const nsp = socket.nsp;
  const policy = nsp.roomPolicy;
  const naming = nameProblem("room", name, policy.maxNameLength);
  if (naming !== undefined) return invalid(naming);
  const options = roomOptionsProblem(
    {
      ...(request.capacity === undefined ? {} : { capacity: request.capacity }),
      ...(request.key === undefined ? {} : { key: request.key }),
      ...(metadata === undefined ? {} : { metadata }),
      ...(request.emptyTimeout === undefined ? {} : { emptyTimeout: request.emptyTimeout }),
    },
    policy,
    true,
  );
  if (options !== undefined) return invalid(options);
  if (!request.join && !(request.emptyTimeout !== undefined && request.emptyTimeout > 0)) {
    return invalid("A room created without joining it needs an emptyTimeout above 0");
  }
  if (request.player !== undefined) {
    const problem = nameProblem("player", request.player, policy.maxPlayerLength);
    if (problem !== undefined) return invalid(problem);
  }
  if (nsp.getRoom(name) !== undefined || nsp.sockets.has(name)) {
    return { code: ErrorCode.RoomExists, message: `A room named ${name} exists already` };
  }
  const created = nsp.roomMoves.registry.createdBy(socket.id);
  if (created >= policy.maxCreatedPerSocket) {
    return {
      code: ErrorCode.LimitExceeded,
      message: `A socket may have created at most ${policy.maxCreatedPerSocket} rooms that exist`,
      limit: "rooms_created",
    };
  }
  const total = roomCountProblem(socket);
  if (total !== undefined) return total;
  return request.join ? roomsPerSocketProblem(socket, request.leave) : undefined;
}

function roomCountProblem(socket: AnyServerSocket): Refusal | undefined {
  const max = socket.nsp.roomPolicy.maxRooms;
  if (socket.nsp.roomMoves.registry.size < max) return undefined;
  return {
    code: ErrorCode.LimitExceeded,
    message: `The namespace holds at most ${max} rooms`,
    limit: "namespace_rooms",
  };
}

/** Whether joining one more room (leaving `leave`) puts the socket over `maxRoomsPerSocket`. */
function roomsPerSocketProblem(
  socket: AnyServerSocket,
  leave: string | undefined,
): Refusal | undefined {
  const rooms = socket.nsp.adapter.socketRooms(socket.id);
  const max = socket.nsp.core.options.maxRoomsPerSocket;
  // Its own room does not count; a room left in the same step makes space.
  const leaving = leave !== undefined && leave !== socket.id && rooms.has(leave) ? 1 : 0;
  if (rooms.size - 1 + 1 - leaving <= max) return undefined;
  return {
    code: ErrorCode.LimitExceeded,
    message: `A socket may be in at most ${max} rooms`,
    limit: "rooms",
  };
}

function sendRefusal(
  socket: AnyServerSocket,
  room: string,
  refusal: Refusal,
  requestId: number | undefined,
): void {
  socket.deliverControl(encodeFrame(RoomJoinError, {
    room,
    code: refusal.code,
    message: refusal.message,
    ...(requestId === undefined ? {} : { requestId }),
    ...(refusal.limit === undefined ? {} : { limit: refusal.limit }),
  }, { channel: socket.channel }));
}
