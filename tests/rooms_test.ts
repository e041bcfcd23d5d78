// Rooms over real loopback connections: joining and leaving from either side, room lifecycle
// events, the join hook, room broadcasts and their exceptions, and member notifications.
import assert from "node:assert/strict";
import {
  type DisconnectReason,
  type EventInfo,
  JoinError,
  type JoinRequest,
  type Payload,
  type ServerSocket,
} from "../server.ts";
import type { ClientSocket, RoomMember } from "../client.ts";
import { connectClient, startServer } from "./harness.ts";
import { eventOf, home, serverSide, within } from "./within.ts";

/**
 * Waits until everything the server sent a client socket before now has arrived: frames keep
 * their order on a connection, so once a marker sent now arrives, nothing sent earlier is still
 * on its way.
 */
async function settle(server: ServerSocket, client: ClientSocket): Promise<void> {
  const marker = eventOf(client, "marker");
  server.emit("marker");
  await marker;
}

/** Records a client socket's events of one name: payloads and infos. */
function record(socket: ClientSocket, event: string): [Payload, EventInfo][] {
  const heard: [Payload, EventInfo][] = [];
  socket.on(event, (data, info) => void heard.push([data, info]));
  return heard;
}

Deno.test("A client joins and leaves rooms, and both sides agree on its rooms", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using client = await connectClient(test.port);
  const socket = await home(client);
  const onServer = serverSide(nsp, socket);
  assert.deepEqual([...onServer.rooms], [socket.id], "a socket starts in its own room");
  assert.deepEqual([...nsp.rooms.get(socket.id!)!], [socket.id]);
  assert.deepEqual([...socket.rooms], [], "the client's list leaves its own room out");

  await within(socket.join("lobby"));
  assert.deepEqual([...socket.rooms], ["lobby"]);
  assert.deepEqual([...onServer.rooms].sort(), [socket.id!, "lobby"].sort());
  assert.deepEqual([...nsp.rooms.get("lobby")!], [socket.id]);

  await within(socket.join("arena", { leave: "lobby" }));
  assert.deepEqual([...socket.rooms], ["arena"]);
  assert.deepEqual([...onServer.rooms].sort(), [socket.id!, "arena"].sort());
  assert.equal(nsp.rooms.has("lobby"), false);

  await within(socket.leave("arena"));
  assert.deepEqual([...socket.rooms], []);
  assert.deepEqual([...onServer.rooms], [socket.id]);
  assert.equal(nsp.rooms.has("arena"), false);
  await assert.rejects(socket.leave(socket.id!), TypeError);
});

Deno.test("A client's leave is confirmed once", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using client = await connectClient(test.port);
  const socket = await home(client);
  const left: string[] = [];
  socket.on("room_left", (room) => void left.push(room));
  await within(socket.join("lobby"));
  await within(socket.leave("lobby"));
  await settle(serverSide(nsp, socket), socket);
  assert.deepEqual(left, ["lobby"]);
});

Deno.test("The server puts a socket in rooms and takes it out, and the client is told", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using client = await connectClient(test.port);
  const socket = await home(client);
  const onServer = serverSide(nsp, socket);

  const joined: string[] = [];
  socket.on("room_joined", (room) => void joined.push(room));
  const arena = eventOf<[string, unknown]>(socket, "room_joined");
  onServer.join(["arena", "lobby"]);
  assert.equal((await arena)[0], "arena");
  await settle(onServer, socket);
  assert.deepEqual(joined, ["arena", "lobby"]);
  assert.deepEqual([...socket.rooms].sort(), ["arena", "lobby"]);
  assert.deepEqual(nsp.socketsIn("arena"), [onServer]);

  const left = eventOf<[string]>(socket, "room_left");
  onServer.leave("arena");
  assert.deepEqual(await left, ["arena"]);
  assert.deepEqual([...socket.rooms], ["lobby"]);
  assert.deepEqual(nsp.socketsIn("arena"), []);

  onServer.leave(onServer.id);
  assert.ok(onServer.rooms.has(onServer.id), "a socket's own room cannot be left");
});

Deno.test("The namespace reports rooms created, joined, left and deleted, with the room's state", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  const log: string[] = [];
  nsp.on("room_created", (room) => void log.push(`created ${room.name} (${room.size})`));
  nsp.on("room_joined", (room, member) => {
    log.push(`joined ${room.name} ${member.socketId} #${member.playerId} (${room.size})`);
  });
  nsp.on("room_left", (room, member) => {
    log.push(`left ${room.name} ${member.socketId} #${member.playerId} (${room.size})`);
  });
  nsp.on("room_deleted", (room) => void log.push(`deleted ${room.name} ${room.deleted}`));
  await using one = await connectClient(test.port);
  await using two = await connectClient(test.port);
  const a = await home(one);
  assert.deepEqual(log.splice(0), [], "a socket's own room is not a room with events");
  await within(a.join("lobby"));
  assert.deepEqual(log.splice(0), ["created lobby (0)", `joined lobby ${a.id} #1 (1)`]);
  const b = await home(two);
  await within(b.join("lobby"));
  assert.deepEqual(log.splice(0), [`joined lobby ${b.id} #2 (2)`], "the room exists already");
  assert.deepEqual(
    nsp.socketsIn("lobby").map((socket) => socket.id).sort(),
    [a.id!, b.id!].sort(),
  );

  await within(a.leave("lobby"));
  assert.deepEqual(log.splice(0), [`left lobby ${a.id} #1 (1)`], "a member is left");
  await within(b.leave("lobby"));
  assert.deepEqual(log.splice(0), [`left lobby ${b.id} #2 (0)`, "deleted lobby true"]);
  assert.deepEqual(nsp.socketsIn("lobby"), []);
  assert.equal(nsp.getRoom("lobby"), undefined);

  await within(b.join("lobby"));
  log.splice(0);
  const gone = eventOf<[DisconnectReason]>(serverSide(nsp, b), "disconnect");
  b.disconnect();
  await gone;
  assert.deepEqual(
    log.splice(0),
    [`left lobby ${b.id} #1 (0)`, "deleted lobby true"],
    "a socket that disconnects leaves every room",
  );
  assert.equal(nsp.rooms.has(b.id!), false);
});

Deno.test("A client cannot join another socket's own room", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using one = await connectClient(test.port);
  await using two = await connectClient(test.port);
  const a = await home(one);
  const b = await home(two);
  await within(assert.rejects(b.join(a.id!), (error: unknown) => {
    assert.ok(error instanceof JoinError);
    assert.equal(error.code, "refused");
    assert.equal(error.room, a.id);
    return true;
  }));
  assert.deepEqual([...nsp.rooms.get(a.id!)!], [a.id]);
  assert.deepEqual([...b.rooms], []);
});

Deno.test("A join hook that returns false refuses the join", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  nsp.onJoinRequest((_socket, room) => room !== "vip");
  await using client = await connectClient(test.port);
  const socket = await home(client);
  await within(assert.rejects(socket.join("vip"), (error: unknown) => {
    assert.ok(error instanceof JoinError);
    assert.equal(error.code, "refused");
    assert.equal(error.room, "vip");
    return true;
  }));
  assert.equal(nsp.rooms.has("vip"), false);
  await within(socket.join("lobby"));
  assert.deepEqual([...socket.rooms], ["lobby"]);
});

Deno.test("A join hook's message is the refusal's message", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  nsp.onJoinRequest(() => "The table is private");
  await using client = await connectClient(test.port);
  const socket = await home(client);
  await within(assert.rejects(socket.join("table"), (error: unknown) => {
    assert.ok(error instanceof JoinError);
    assert.equal(error.code, "refused");
    assert.equal(error.message, "The table is private");
    return true;
  }));
  assert.equal(nsp.rooms.has("table"), false);
});

Deno.test("An async join hook decides with the request's key and player", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  const requests: [string, string, JoinRequest][] = [];
  nsp.onJoinRequest(async (socket, room, request) => {
    requests.push([socket.id, room, request]);
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    return request.key === "sesame";
  });
  await using client = await connectClient(test.port);
  const socket = await home(client);
  await within(assert.rejects(socket.join("cave", { key: "open" }), JoinError));
  await within(socket.join("cave", { key: "sesame", player: "Ali" }));
  assert.deepEqual([...socket.rooms], ["cave"]);
  assert.equal(requests.length, 2);
  const [id, room, request] = requests[1]!;
  assert.equal(id, socket.id);
  assert.equal(room, "cave");
  assert.equal(request.room, "cave");
  assert.equal(request.key, "sesame");
  assert.equal(request.player, "Ali");
});

Deno.test("A room broadcast with except skips that socket, and receivers learn the room and the sender", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  await using c3 = await connectClient(test.port);
  await using c4 = await connectClient(test.port);
  const [a, b, c, outsider] = [await home(c1), await home(c2), await home(c3), await home(c4)];
  for (const socket of [a, b, c]) await within(socket.join("lobby"));
  const heardA = record(a, "news");
  const heardB = record(b, "news");
  const heardC = record(c, "news");
  const heardOut = record(outsider, "news");

  const result = nsp.to("lobby").except(a.id!).emit("news", "b and c", { sender: "referee" });
  assert.deepEqual(result, { sent: 2, sentUdp: 0, dropped: 0, overflowed: 0, unavailable: 0 });
  for (const socket of [a, b, c, outsider]) await settle(serverSide(nsp, socket), socket);
  assert.equal(heardA.length, 0);
  assert.equal(heardOut.length, 0);
  for (const heard of [heardB, heardC]) {
    assert.deepEqual(heard, [["b and c", { wantsAck: false, room: "lobby", sender: "referee" }]]);
  }

  // Excepting a room excludes its members.
  await within(b.join("muted"));
  heardB.length = heardC.length = 0;
  assert.equal(nsp.to("lobby").except("muted").emit("news", "not muted").sent, 2);
  for (const socket of [a, b, c]) await settle(serverSide(nsp, socket), socket);
  assert.deepEqual(heardA.map(([data]) => data), ["not muted"]);
  assert.equal(heardB.length, 0);
  assert.deepEqual(heardC.map(([data, info]) => [data, info.room]), [["not muted", "lobby"]]);
});

Deno.test("socket.to(room) reaches the room's other members, with the socket as the sender", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  await using c3 = await connectClient(test.port);
  const [a, b, c] = [await home(c1), await home(c2), await home(c3)];
  for (const socket of [a, b, c]) await within(socket.join("lobby"));
  const heardA = record(a, "chat");
  const heardB = record(b, "chat");
  const heardC = record(c, "chat");
  const sender = serverSide(nsp, a);
  assert.equal(sender.to("lobby").emit("chat", { text: "hi" }).sent, 2);
  for (const socket of [a, b, c]) await settle(serverSide(nsp, socket), socket);
  assert.equal(heardA.length, 0);
  for (const heard of [heardB, heardC]) {
    assert.deepEqual(heard, [[{ text: "hi" }, { wantsAck: false, room: "lobby", sender: a.id }]]);
  }

  // broadcast: everyone but the socket itself.
  assert.equal(sender.broadcast.emit("chat", "all").sent, 2);
  for (const socket of [a, b, c]) await settle(serverSide(nsp, socket), socket);
  assert.equal(heardA.length, 0);
  assert.deepEqual(heardB[1]?.[0], "all");
  assert.deepEqual(heardC[1]?.[0], "all");
});

Deno.test("A client's room event reaches the server with its room, and a relay reaches the others", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  const relayed: [Payload, EventInfo][] = [];
  nsp.on("connection", (socket) => {
    socket.on("chat", (data, info) => {
      relayed.push([data, info]);
      if (info.room !== undefined) socket.to(info.room).emit("chat", data);
    });
  });
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  await using c3 = await connectClient(test.port);
  const [a, b, outsider] = [await home(c1), await home(c2), await home(c3)];
  for (const socket of [a, b]) await within(socket.join("lobby"));
  const heardA = record(a, "chat");
  const heardOut = record(outsider, "chat");
  const toB = eventOf<[Payload, EventInfo]>(b, "chat");
  assert.equal(a.to("lobby").emit("chat", "hello all"), "sent");
  assert.deepEqual(await toB, ["hello all", { wantsAck: false, room: "lobby", sender: a.id }]);
  assert.deepEqual(relayed, [["hello all", { room: "lobby", wantsAck: false }]]);
  for (const socket of [a, outsider]) await settle(serverSide(nsp, socket), socket);
  assert.deepEqual(heardA, [], "the sender does not hear its own relay");
  assert.deepEqual(heardOut, []);
});

Deno.test("Broadcast operators are immutable", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  await using c3 = await connectClient(test.port);
  const [a, b, c] = [await home(c1), await home(c2), await home(c3)];
  await within(a.join("x"));
  await within(b.join("x"));
  await within(c.join("y"));

  const inX = nsp.to("x");
  const inXY = inX.to("y");
  const inXButA = inX.except(a.id!);
  const alsoXY = inX.in("y");
  assert.deepEqual(inX.socketIds().sort(), [a.id!, b.id!].sort());
  assert.deepEqual(inXY.socketIds().sort(), [a.id!, b.id!, c.id!].sort());
  assert.deepEqual(alsoXY.socketIds().sort(), [a.id!, b.id!, c.id!].sort());
  assert.deepEqual(inXButA.socketIds(), [b.id]);
  assert.deepEqual(inX.socketIds().sort(), [a.id!, b.id!].sort(), "deriving changed nothing");

  const allButC = nsp.except(c.id!);
  allButC.except(a.id!);
  assert.deepEqual(allButC.socketIds().sort(), [a.id!, b.id!].sort());

  const fromA = serverSide(nsp, a).to("x");
  fromA.to("y");
  assert.deepEqual(fromA.socketIds(), [b.id], "a socket's target excludes the socket itself");
});

Deno.test("Members are told when others enter and leave their rooms", async () => {
  await using test = await startServer();
  const nsp = test.server.of("/home");
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  await using c3 = await connectClient(test.port);
  const [a, b, c] = [await home(c1), await home(c2), await home(c3)];
  await within(a.join("lobby"));
  const bEntered: RoomMember[] = [];
  b.on("member_entered", (member) => void bEntered.push(member));

  const entered = eventOf<[RoomMember]>(a, "member_entered");
  await within(b.join("lobby"));
  assert.deepEqual(await entered, [{ room: "lobby", socketId: b.id, playerId: 2 }]);

  const left = eventOf<[RoomMember]>(a, "member_left");
  await within(b.leave("lobby"));
  assert.deepEqual(await left, [{ room: "lobby", socketId: b.id, playerId: 2 }]);
  await settle(serverSide(nsp, b), b);
  assert.deepEqual(bEntered, [], "a socket is not told of its own entry");

  // A move by the server and a disconnect are announced too.
  const byServer = eventOf<[RoomMember]>(a, "member_entered");
  serverSide(nsp, c).join("lobby");
  assert.deepEqual(await byServer, [{ room: "lobby", socketId: c.id, playerId: 2 }]);
  const disconnected = eventOf<[RoomMember]>(a, "member_left");
  c.disconnect();
  assert.deepEqual(await disconnected, [{ room: "lobby", socketId: c.id, playerId: 2 }]);
});

Deno.test("With sendRoomEvents off, server room moves and member events are not sent, yet a client's join resolves", async () => {
  await using test = await startServer({ sendRoomEvents: false });
  const nsp = test.server.of("/home");
  await using c1 = await connectClient(test.port);
  await using c2 = await connectClient(test.port);
  const [a, b] = [await home(c1), await home(c2)];
  const told: string[] = [];
  for (const socket of [a, b]) {
    socket.on("room_joined", (room) => void told.push(`${socket.id} joined ${room}`));
    socket.on("room_left", (room) => void told.push(`${socket.id} left ${room}`));
    socket.on("member_entered", (m) => void told.push(`${socket.id} saw ${m.socketId} enter`));
    socket.on("member_left", (m) => void told.push(`${socket.id} saw ${m.socketId} leave`));
  }
  const onServerA = serverSide(nsp, a);
  onServerA.join("arena");
  onServerA.leave("arena");
  onServerA.join("arena");
  await settle(onServerA, a);
  assert.deepEqual(told, []);
  assert.deepEqual([...a.rooms], []);
  assert.ok(onServerA.rooms.has("arena"));

  await within(a.join("lobby"));
  await within(b.join("lobby"));
  await within(b.leave("lobby"));
  for (const socket of [a, b]) await settle(serverSide(nsp, socket), socket);
  assert.deepEqual(told, [
    `${a.id} joined lobby`,
    `${b.id} joined lobby`,
    `${b.id} left lobby`,
  ], "only the replies to the clients' own requests");
  assert.deepEqual([...a.rooms], ["lobby"]);
  assert.deepEqual(nsp.socketsIn("lobby"), [onServerA]);
});
